"""Copy the CustomResourceDefinitions of `crds/` into the Helm chart's `charts/atoll/crds/`.

`crds/` is the one source of truth (the operator's `--install-crds` applies it too). Helm
creates everything in a chart's `crds/` folder before any of those kinds is served, so only
the CustomResourceDefinition documents are copied, byte for byte: the ClusterKopfPeering
that `kopf.dev_clusterkopfpeerings.yaml` also holds, and the default ClusterVersion, are
templates of the chart. `tests/unit/chart` fails while the copies are stale.

Usage: .venv/bin/python hack/sync_chart_crds.py [--check]
"""

from __future__ import annotations

import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "crds"
CHART_CRDS = ROOT / "charts" / "atoll" / "crds"
COMMAND = ".venv/bin/python hack/sync_chart_crds.py"


def documents(text: str) -> list[str]:
    """The documents of a YAML stream as written, each with its own comments."""
    parts: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if line.rstrip("\n") == "---":
            parts.append([])
        else:
            parts[-1].append(line)
    return ["".join(part) for part in parts if "".join(part).strip()]


def is_crd(document: str) -> bool:
    loaded = yaml.safe_load(document)
    return isinstance(loaded, dict) and loaded.get("kind") == "CustomResourceDefinition"


def chart_crds(source: pathlib.Path = SOURCE) -> dict[str, str]:
    """File name → what the chart's copy must hold, for every source file with a CRD."""
    wanted: dict[str, str] = {}
    for path in sorted(source.glob("*.yaml")):
        crds = [document for document in documents(path.read_text()) if is_crd(document)]
        if crds:
            wanted[path.name] = "---\n".join(crds)
    return wanted


def stale(target: pathlib.Path = CHART_CRDS) -> list[str]:
    """Names of chart files that are missing, different or no longer in `crds/`."""
    wanted = chart_crds()
    present = {path.name for path in target.glob("*.yaml")}
    different = [
        name
        for name, text in wanted.items()
        if not (target / name).is_file() or (target / name).read_text() != text
    ]
    return sorted({*different, *(present - set(wanted))})


def sync(target: pathlib.Path = CHART_CRDS) -> None:
    target.mkdir(parents=True, exist_ok=True)
    wanted = chart_crds()
    for path in target.glob("*.yaml"):
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        (target / name).write_text(text)


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        names = stale()
        if names:
            sys.stderr.write(f"stale chart CRDs: {', '.join(names)}; run `{COMMAND}`\n")
            return 1
        return 0
    if argv:
        sys.stderr.write(f"usage: {COMMAND} [--check]\n")
        return 2
    sync()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
