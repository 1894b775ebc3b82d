"""YAML through the safe loader only: request files are untrusted data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bs.errors import BsError

#: Configuration and request files are small; refuse anything larger unread.
MAX_YAML_BYTES = 1_000_000


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping.

    PyYAML keeps the last of duplicate keys silently: a second ``frontend:``
    entry could swap an app's repository without anyone noticing.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key: construct_mapping reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"the key {key!r} is given twice (keep one)", key_node.start_mark,
                )  # fmt: skip
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with the safe loader; `source` names it in errors."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise BsError(f"{source}: nested too deeply to be a bs file. Fix the file.") from None
    except yaml.MarkedYAMLError as exc:
        where = ""
        if exc.problem_mark is not None:
            where = f" at line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}"
        raise BsError(
            f"{source}: not valid YAML{where}: {exc.problem or exc}. Fix the file's syntax."
        ) from None
    except yaml.YAMLError as exc:
        raise BsError(f"{source}: not valid YAML: {exc}. Fix the file's syntax.") from None


def load_yaml_file(path: Path, display: str | None = None) -> Any:
    """Read and parse a YAML file, with errors that name it."""
    name = display or str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BsError(f"{name}: no such file. Create it (see README.md).") from None
    except OSError as exc:
        raise BsError(f"{name}: cannot be read ({exc.strerror}).") from None
    if size > MAX_YAML_BYTES:
        raise BsError(
            f"{name}: {size} bytes is too large for a YAML file (limit {MAX_YAML_BYTES})."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BsError(f"{name}: not UTF-8 text. Save it as UTF-8.") from None
    except OSError as exc:
        raise BsError(f"{name}: cannot be read ({exc.strerror}).") from None
    return parse_yaml(text, name)


def dump_yaml(data: Any) -> str:
    """Dump plain data as block-style YAML, keys in the given order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
