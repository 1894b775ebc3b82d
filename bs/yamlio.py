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

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Every mapping passes here before its merge keys are flattened into it (nested
        # merges too), so this sees each mapping's own keys; flattening rewrites the node
        # in place, so a node is checked once, or an alias would show false duplicates.
        checked: set[int] = self.__dict__.setdefault("_checked_nodes", set())
        if id(node) not in checked:
            checked.add(id(node))
            self._refuse_duplicates(node)
        super().flatten_mapping(node)

    def _keys(self, node: yaml.MappingNode) -> set[Any]:
        """The hashable keys a mapping node gives (merged ones included once flattened)."""
        keys: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag != "tag:yaml.org,2002:merge":
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, str | int | float | bool) or key is None:
                    keys.add(key)
        return keys

    def _refuse_duplicates(self, node: yaml.MappingNode) -> None:
        merges = [v for k, v in node.value if k.tag == "tag:yaml.org,2002:merge"]
        if len(merges) > 1:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark,
                "'<<' is given twice: merge several mappings with one `<<: [*a, *b]`",
                node.start_mark,
            )  # fmt: skip
        own = self._keys(node)
        if merges and isinstance(merges[0], yaml.SequenceNode):
            # Two merged mappings giving one key: PyYAML's choice between them is
            # arbitrary, so the file must say which with a key of its own.
            merged: set[Any] = set()
            for source in merges[0].value:
                if not isinstance(source, yaml.MappingNode):
                    continue  # PyYAML reports it
                self.flatten_mapping(source)
                keys = self._keys(source)
                clash = sorted(str(k) for k in (keys & merged) - own)
                if clash:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping", node.start_mark,
                        f"the key {clash[0]!r} comes from two merged mappings: give it here",
                        source.start_mark,
                    )  # fmt: skip
                merged |= keys
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults`: merged keys may be overridden, as YAML allows
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


# Timestamps stay strings: the models parse them, with messages that name the key,
# where PyYAML's own conversion raises bare errors on dates such as 2024-02-30.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

#: Where each value starts in the file: key path -> line number (1-based).
Lines = dict[tuple[int | str, ...], int]

#: Aliases can make a few lines expand to billions of values (a "YAML bomb"):
#: refuse a document whose expanded size is larger than this.
MAX_YAML_VALUES = 100_000


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with the safe loader; `source` names it in errors."""
    return parse_yaml_with_lines(text, source)[0]


def _expanded_size(root: yaml.Node, source: str) -> None:
    """Count values as if aliases were expanded, without expanding them.

    Refuses a document whose aliases expand past MAX_YAML_VALUES, and one
    whose alias refers to a value containing itself (it would never end).
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            open_nodes.discard(id(node))
        elif id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if not children_done:
            if id(node) in open_nodes:
                raise BsError(
                    f"{source}: line {node.start_mark.line + 1}: an alias refers to a value that "
                    "contains it, which never ends: write the values out instead."
                )
            open_nodes.add(id(node))
            stack.append((node, True))
            for child in children:
                if id(child) in open_nodes:
                    raise BsError(
                        f"{source}: line {child.start_mark.line + 1}: an alias refers to a value "
                        "that contains it, which never ends: write the values out instead."
                    )
                if id(child) not in sizes:
                    stack.append((child, False))
            continue
        size = 1 + sum(sizes.get(id(c), 1) for c in children)
        if size > MAX_YAML_VALUES:
            raise BsError(
                f"{source}: holds more than {MAX_YAML_VALUES:,} values, counting each alias as a "
                f"copy (at line {node.start_mark.line + 1}): a bs file is far smaller; "
                "write the values out, without aliases."
            )
        sizes[id(node)] = size


def _node_lines(root: yaml.Node) -> Lines:
    lines: Lines = {(): root.start_mark.line + 1}
    seen: set[int] = set()
    stack: list[tuple[tuple[int | str, ...], yaml.Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if id(node) in seen:
            continue  # an alias: its lines are the anchor's
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    child = (*path, key_node.value)
                    lines[child] = key_node.start_mark.line + 1
                    stack.append((child, value_node))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                stack.append(((*path, index), item))
    return lines


def parse_yaml_with_lines(text: str, source: str) -> tuple[Any, Lines]:
    """Parse YAML text, also returning the line where each value starts."""
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, {}
            _expanded_size(node, source)
            lines = _node_lines(node)
            try:
                return loader.construct_document(node), lines
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
                # An explicit tag PyYAML cannot convert (`!!bool maybe`, `!!int abc`), or a
                # number too long to be one: the value, not the syntax, is wrong.
                raise BsError(
                    f"{source}: a value cannot be read ({type(exc).__name__}: {exc}). "
                    "Write it plainly, without a !!tag."
                ) from None
        finally:
            loader.dispose()
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
    return load_yaml_file_with_lines(path, display)[0]


def load_yaml_file_with_lines(path: Path, display: str | None = None) -> tuple[Any, Lines]:
    name = display or str(path)
    return parse_yaml_with_lines(read_yaml_text(path, name), name)


def check_yaml_size(size: int, name: str) -> None:
    """Refuse a file too large to be a bs YAML file, before reading it."""
    if size > MAX_YAML_BYTES:
        raise BsError(
            f"{name}: {size} bytes is too large for a YAML file (limit {MAX_YAML_BYTES})."
        )


def decode_yaml(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BsError(f"{name}: not UTF-8 text. Save it as UTF-8.") from None


def read_yaml_text(path: Path, name: str) -> str:
    """A YAML file's text, within the size limit, with errors that name it."""
    try:
        check_yaml_size(path.stat().st_size, name)
        return decode_yaml(path.read_bytes(), name)
    except FileNotFoundError:
        raise BsError(f"{name}: no such file. Create it (see README.md).") from None
    except OSError as exc:
        raise BsError(f"{name}: cannot be read ({exc.strerror}).") from None


def dump_yaml(data: Any) -> str:
    """Dump plain data as block-style YAML, keys in the given order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
