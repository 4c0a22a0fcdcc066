"""README's reference sections, generated from their sources of truth.

The CRD reference comes from the OpenAPI schemas in `crds/` (every field of spec and status:
path, type, default, description); the CLI reference from the click command tree (usage and
options of every command). README.md holds each between `<!-- NAME:start -->` and
`<!-- NAME:end -->` markers. This module sits in the CLI layer because it reads the command
tree; a unit test compares README with what it generates, so the two cannot drift apart.

    .venv/bin/python -m atoll.cli.reference --write README.md   # refresh both sections
    .venv/bin/python -m atoll.cli.reference --check README.md   # exit 1 when one is stale
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import pathlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from atoll.cli import main as command_tree
from atoll.core import api as atoll_api

REGENERATE = ".venv/bin/python -m atoll.cli.reference --write README.md"
QUANTITY_PATTERN = "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))"


@dataclasses.dataclass(frozen=True)
class Field:
    """One row of a CRD reference table."""

    path: str
    type: str
    default: str
    description: str


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped, HTML-like words kept visible."""
    parts = " ".join(text.split()).split("`")
    for index in range(0, len(parts), 2):  # outside code spans only
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def _type(node: dict[str, Any], *, required: bool) -> str:
    if node.get("x-kubernetes-int-or-string"):
        kind = (
            "quantity" if node.get("pattern", "").startswith(QUANTITY_PATTERN) else "int or string"
        )
    else:
        kind = str(node.get("type", "any"))
    if node.get("format"):
        kind += f" ({node['format']})"
    if kind == "array":
        kind = f"array of {_type(node.get('items') or {}, required=False)}"
    extra = node.get("additionalProperties")
    if kind == "object" and isinstance(extra, dict) and not node.get("properties"):
        kind = f"map of {_type(extra, required=False)}"
    if "enum" in node:
        kind += ", one of " + ", ".join(f"`{value}`" for value in node["enum"])
    return kind + (", required" if required else "")


def _key(name: str) -> str:
    return f'"{name}"' if "." in name else name


def schema_fields(node: dict[str, Any], path: str) -> Iterator[Field]:
    """The fields below `node` (an object schema at `path`), depth first, in schema order."""
    required = set(node.get("required") or [])
    for name, child in (node.get("properties") or {}).items():
        child_path = f"{path}.{_key(name)}"
        default = child.get("default")
        yield Field(
            path=child_path,
            type=_type(child, required=name in required),
            default="" if default is None else json.dumps(default, separators=(", ", ": ")),
            description=str(child.get("description", "")),
        )
        if child.get("properties"):
            yield from schema_fields(child, child_path)
        items = child.get("items") or {}
        if items.get("properties"):
            yield from schema_fields(items, f"{child_path}[]")


def _field_table(fields: list[Field]) -> list[str]:
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    rows += [
        f"| `{field.path}` | {_cell(field.type)} | "
        f"{f'`{_cell(field.default)}`' if field.default else ''} | {_cell(field.description)} |"
        for field in fields
    ]
    return rows


def crd_reference(documents: list[dict[str, Any]]) -> list[str]:
    """Markdown for every atoll CRD: what it is, then a table of its spec and of its status."""
    crds = [
        doc
        for doc in documents
        if doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["group"] == atoll_api.GROUP
    ]
    lines: list[str] = []
    for crd in sorted(crds, key=lambda doc: doc["spec"]["names"]["kind"] != "VirtualCluster"):
        names = crd["spec"]["names"]
        version = next(item for item in crd["spec"]["versions"] if item.get("storage"))
        schema = version["schema"]["openAPIV3Schema"]
        short = ", ".join(f"`{name}`" for name in names.get("shortNames") or [])
        scope = "namespaced" if crd["spec"]["scope"] == "Namespaced" else "cluster-scoped"
        lines += [
            f"### {names['kind']}",
            "",
            f"`{crd['spec']['group']}/{version['name']}`, {scope}"
            + (f", short name {short}" if short else "")
            + f". {_cell(schema.get('description', ''))}",
        ]
        for part in ("spec", "status"):
            node = (schema.get("properties") or {}).get(part)
            if not node:
                continue
            fields = list(schema_fields(node, part))
            lines += [
                "",
                f"<details><summary><code>{part}</code> of {names['kind']}: "
                f"{len(fields)} fields</summary>",
                "",
                _cell(node.get("description", "")),
                "",
                *_field_table(fields),
                "",
                "</details>",
            ]
        lines.append("")
    return lines[:-1]


def _walk(
    command: click.Command, parent: click.Context | None = None
) -> Iterator[tuple[click.Context, click.Command]]:
    context = click.Context(command, info_name=command.name if parent else "atoll", parent=parent)
    yield context, command
    if isinstance(command, click.Group):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, context)


def _help_blocks(text: str) -> list[str]:
    """A command's help as Markdown: paragraphs, with click's `\\b` blocks kept verbatim."""
    lines: list[str] = []
    for paragraph in inspect.cleandoc(text.split("\f", maxsplit=1)[0]).split("\n\n"):
        if paragraph.startswith("\b\n"):
            lines += ["```text", paragraph.removeprefix("\b\n"), "```", ""]
        else:
            lines += [" ".join(paragraph.split()), ""]
    return lines


def cli_reference(root: click.Command) -> list[str]:
    """Markdown for the command tree: a summary table, then every command's usage and options."""
    commands = list(_walk(root))
    lines = ["| command | what it does |", "|---|---|"]
    lines += [
        f"| `{context.command_path}` | {_cell(command.get_short_help_str(limit=200))} |"
        for context, command in commands[1:]
        if not isinstance(command, click.Group)
    ]
    lines += ["", "<details><summary>Usage and options of every command</summary>", ""]
    for context, command in commands:
        usage = " ".join([context.command_path, *command.collect_usage_pieces(context)])
        lines += [f"#### {context.command_path}", "", *_help_blocks(command.help or "")]
        if command.epilog:
            lines += _help_blocks(command.epilog)
        lines += ["```text", usage, "```", ""]
        records = [
            record
            for param in command.get_params(context)
            if isinstance(param, click.Option)
            and "--help" not in param.opts
            and (record := param.get_help_record(context))
        ]
        if records:
            lines += ["| option | meaning |", "|---|---|"]
            lines += [f"| `{_cell(opts)}` | {_cell(text)} |" for opts, text in records]
            lines.append("")
    lines += ["Every command also takes `-h, --help`.", "", "</details>"]
    return lines


GENERATORS: dict[str, Callable[[], list[str]]] = {
    "crd-reference": lambda: crd_reference(atoll_api.manifests()),
    "cli-reference": lambda: cli_reference(command_tree.cli),
}


def _bounds(text: str, name: str) -> tuple[int, int]:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    first, last = text.find(start), text.find(end)
    if first < 0 or last < first:
        raise ValueError(f"no {start} … {end} pair in the file: add both where it belongs")
    return first + len(start), last


def splice(text: str, name: str, body: list[str]) -> str:
    """`text` with the part between the markers of `name` replaced by `body`."""
    first, last = _bounds(text, name)
    generated = [f"<!-- generated by `{REGENERATE}`: edit the sources, not this -->", *body]
    return text[:first] + "\n" + "\n".join(generated) + "\n" + text[last:]


def refreshed(text: str) -> str:
    """`text` with every reference section generated anew."""
    for name, generate in GENERATORS.items():
        text = splice(text, name, generate())
    return text


def stale_sections(text: str) -> list[str]:
    """Names of the sections whose text differs from what would be generated now."""
    fresh = refreshed(text)
    return [
        name
        for name in GENERATORS
        if text[slice(*_bounds(text, name))] != fresh[slice(*_bounds(fresh, name))]
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m atoll.cli.reference", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", type=pathlib.Path, metavar="FILE", help="refresh FILE")
    action.add_argument("--check", type=pathlib.Path, metavar="FILE", help="fail if stale")
    arguments = parser.parse_args(argv)
    path: pathlib.Path = arguments.write or arguments.check
    text = path.read_text()
    if arguments.write:
        path.write_text(refreshed(text))
        return 0
    if stale := stale_sections(text):
        sys.stderr.write(f"{path}: {', '.join(stale)} out of date; run `{REGENERATE}`\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
