"""Render the README's table of Helm values from the chart's values.yaml and its schema.

One row per value the schema describes (objects are walked down to their leaves; a value
whose schema is a shared definition, such as `resources`, is one row): its key, the type or
the allowed values, the default from values.yaml and the schema's description. The table
sits between `<!-- helm-values:start -->` and `<!-- helm-values:end -->` in README.md;
`tests/unit/chart` fails while it is stale.

Usage: .venv/bin/python hack/gen_helm_values.py [--check]
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "atoll"
README = ROOT / "README.md"
START, END = "<!-- helm-values:start -->", "<!-- helm-values:end -->"
COMMAND = ".venv/bin/python hack/gen_helm_values.py"
# Helm's own key, shared with subcharts: allowed by the schema, not a setting of this chart.
SKIPPED = frozenset({"global"})

Schema = dict[str, Any]


def _resolve(node: Schema, root: Schema) -> Schema:
    """`node` with its `$ref` (to `#/$defs/...`) merged in; its own keys win."""
    reference = node.get("$ref")
    if not isinstance(reference, str):
        return node
    target: Any = root
    for part in reference.removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target, root), **{k: v for k, v in node.items() if k != "$ref"}}


def leaves(schema: Schema, root: Schema, prefix: str = "") -> Iterator[tuple[str, Schema]]:
    """(dotted key, schema) of every value a user sets, in the schema's order."""
    for key, child in (schema.get("properties") or {}).items():
        if key in SKIPPED:
            continue
        path = f"{prefix}{key}"
        if "properties" in child and "$ref" not in child:
            yield from leaves(child, root, f"{path}.")
        else:
            yield path, _resolve(child, root)


def _default(values: dict[str, Any], path: str) -> Any:
    current: Any = values
    for part in path.split("."):
        current = current[part]
    return current


def _shown(value: Any) -> str:
    """A default as a reader types it: strings bare (but `""`), anything else as JSON."""
    if isinstance(value, str) and value:
        return value
    return json.dumps(value, separators=(", ", ": "))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type(schema: Schema) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type", "any")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def table(chart: pathlib.Path = CHART) -> str:
    """The Markdown table, one line per value, ending with a newline."""
    values = yaml.safe_load((chart / "values.yaml").read_text())
    schema: Schema = json.loads((chart / "values.schema.json").read_text())
    lines = ["| value | type | default | description |", "|---|---|---|---|"]
    for path, node in leaves(schema, schema):
        default = _shown(_default(values, path))
        description = _cell(str(node.get("description", "")))
        lines.append(f"| `{path}` | {_type(node)} | `{_cell(default)}` | {description} |")
    return "\n".join(lines) + "\n"


def with_table(readme: str, rendered: str) -> str:
    """`readme` with the text between the markers replaced by `rendered`."""
    head, start, rest = readme.partition(START)
    _old, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"README.md lacks the markers {START} and {END}")
    return f"{head}{START}\n{rendered}{END}{tail}"


def main(argv: list[str]) -> int:
    current = README.read_text()
    wanted = with_table(current, table())
    if argv == ["--check"]:
        if wanted != current:
            sys.stderr.write(f"the README's Helm values table is stale; run `{COMMAND}`\n")
            return 1
        return 0
    if argv:
        sys.stderr.write(f"usage: {COMMAND} [--check]\n")
        return 2
    if wanted != current:
        README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
