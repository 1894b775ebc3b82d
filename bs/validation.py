"""Turn pydantic validation errors into messages that name the file, the key and the fix."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo

from bs.errors import BsError
from bs.yamlio import Lines

ModelT = TypeVar("ModelT", bound=BaseModel)

_MAX_LISTED = 10


def _pattern_names() -> dict[str, str]:
    """What the patterns of the files' fields mean, for messages."""
    from bs import config, configtypes
    from bs.core import ids, names, slots

    return {
        names.REPO_NAME: "a repository name: OWNER/NAME, e.g. alphagov/frontend",
        names.APP_NAME: "a name of lower-case letters, digits, '-' and '_' (e.g. frontend)",
        names.EMAIL: "an email address",
        names.GIT_REF_NAME: "a branch name, e.g. deployed-to-production",
        names.TEAM_NAME: "a team: ORG/TEAM, e.g. alphagov/deployers",
        names.LOGIN: "a login (letters, digits, '-' and '_')",
        names.COMMIT_SHA: "a full commit id (40 or 64 hex digits)",
        names.SHA256_HEX: "a SHA-256 digest (64 lower-case hex digits)",
        ids.REQUEST_ID_PATTERN: "a request id: YYYYMMDD- and 16 base32 characters",
        **slots.PATTERN_NAMES,
        config.GATEWAY_URL: "a URL: http(s)://HOST[:PORT][/PATH], with no user name, "
        "backslash, query or fragment",
        config.MAILBOX: "an address, or Name <address> (a plain ASCII name without quotes)",
        configtypes.ENV_NAME: "an environment variable's name (capitals, digits, _)",
        config.HOST_NAME: "a host name or IP address",
        names.TAG_NAME: "a tag name (no spaces, control characters or ~^:?*[\\)",
        names.REPO_PATH: "a path without control characters",
    }


def validate_document(
    model: type[ModelT], data: Any, source: str, lines: Lines | None = None
) -> ModelT:
    """Validate parsed YAML/JSON against `model`, raising one clear `BsError`.

    With `lines` (from ``bs.yamlio.parse_yaml_with_lines``) each problem names its line.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        raise BsError(f"{source}: expected a mapping of keys to values at the top, found {kind}.")
    try:
        # Files use the published keys only (``from``, never ``from_``).
        return model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise BsError(describe_errors(model, exc, source, lines)) from None


def line_of(lines: Lines, loc: Sequence[int | str]) -> int | None:
    """The line of the deepest part of `loc` the file has."""
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def describe_errors(
    model: type[BaseModel], exc: ValidationError, source: str, where: Lines | None = None
) -> str:
    lines = []
    errors = exc.errors(include_url=False)
    for error in errors[:_MAX_LISTED]:
        loc, text = _describe_one(model, error)
        line = line_of(where, loc) if where else None
        lines.append(f"  line {line}: {text}" if line else f"  {text}")
    if len(errors) > _MAX_LISTED:
        lines.append(f"  ... and {len(errors) - _MAX_LISTED} more")
    plural = "s" if len(errors) > 1 else ""
    return f"{source}: {len(errors)} problem{plural}:\n" + "\n".join(lines)


def _dotted(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _describe_one(model: type[BaseModel], error: Any) -> tuple[tuple[int | str, ...], str]:
    """Where the error is (as the file spells it) and what it says."""
    loc, _ = _walk(model, tuple(error["loc"]))
    # A model validator's error may say where under the model it is (PlacedError).
    placed = getattr(error.get("ctx", {}).get("error"), "loc", None)
    if isinstance(placed, tuple):
        loc = (*loc, *placed)
    return loc, _describe_at(model, error, loc)


def _describe_at(model: type[BaseModel], error: Any, loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = error["loc"][-1]
        parent_loc, allowed = _walk(model, tuple(error["loc"])[:-1])
        hint = f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it"
        where = f" in {_dotted(parent_loc)}" if parent_loc else ""
        return f"unknown key '{key}'{where}: {hint}."
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        key = str(ctx.get("discriminator", "")).strip("'")
        return (
            f"{_dotted((*loc, key))}: '{ctx.get('tag')}' is not one bs knows: "
            f"use {ctx.get('expected_tags')}."
        )
    if kind == "union_tag_not_found":
        key = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
        return f"{_dotted((*loc, key))}: required key is missing: add it."
    if kind == "missing":
        return f"{_dotted(loc)}: required key is missing: add it."
    if kind == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        names = _pattern_names()
        if pattern in names:
            from bs.config import GATEWAY_URL
            from bs.configtypes import ENV_NAME

            # A URL may carry a password, and a password may be put where a variable's
            # name belongs: say what is wrong without repeating it.
            shown = "the value" if pattern in (GATEWAY_URL, ENV_NAME) else repr(error["input"])
            return f"{_dotted(loc)}: {shown} is not {names[pattern]}."
    message = str(error["msg"]).rstrip(".")
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return f"{_dotted(loc)}: {message}."


def _walk(
    model: type[BaseModel], loc: Sequence[int | str]
) -> tuple[tuple[int | str, ...], list[str]]:
    """Follow `loc` through the model: the location as the file spells it
    (without the tags pydantic adds for tagged unions), and the keys allowed
    at its end (empty when it does not end at a mapping of known keys)."""
    current: Any = model
    path = list(loc)
    shown: list[int | str] = []
    while path:
        current = _unwrap(current)
        item = path.pop(0)
        shown.append(item)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = _field_by_key(current, str(item))
            current = field.annotation if field is not None else None
            if field is not None and field.discriminator is not None and path:
                # A tagged union: pydantic puts the tag in the location.
                members = get_args(_unwrap(current)) or (current,)
                current = _member_for_tag(members, str(path.pop(0)))
            continue
        origin = get_origin(current)
        args = get_args(current)
        if origin is dict:
            current = args[1]
        elif origin in (list, tuple):
            current = args[0]
        elif origin in (typing.Union, types.UnionType):
            shown.pop()
            current = _member_for_tag(args, str(item))
        else:
            current = None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return tuple(shown), [f.alias or name for name, f in current.model_fields.items()]
    return tuple(shown), []


def _field_by_key(model: type[BaseModel], key: str) -> FieldInfo | None:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return tp


def _member_for_tag(members: Sequence[Any], tag: str) -> Any:
    for member in members:
        # A callable discriminator's members carry `Tag(...)` in their metadata.
        if get_origin(member) is typing.Annotated and any(
            isinstance(meta, Tag) and meta.tag == tag
            for meta in getattr(member, "__metadata__", ())
        ):
            return member
    for member in members:
        member = _unwrap(member)
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        for field in member.model_fields.values():
            literal_args = (
                get_args(field.annotation) if get_origin(field.annotation) is typing.Literal else ()
            )
            if tag in literal_args:
                return member
    return None
