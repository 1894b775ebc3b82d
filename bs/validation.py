"""Turn pydantic validation errors into messages that name the file, the key and the fix."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from bs.errors import BsError

ModelT = TypeVar("ModelT", bound=BaseModel)

_MAX_LISTED = 10


def validate_document(model: type[ModelT], data: Any, source: str) -> ModelT:
    """Validate parsed YAML/JSON against `model`, raising one clear `BsError`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        raise BsError(f"{source}: expected a mapping of keys to values at the top, found {kind}.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BsError(describe_errors(model, exc, source)) from None


def describe_errors(model: type[BaseModel], exc: ValidationError, source: str) -> str:
    lines = []
    errors = exc.errors(include_url=False)
    for error in errors[:_MAX_LISTED]:
        lines.append(f"  {_describe_one(model, error)}")
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


def _describe_one(model: type[BaseModel], error: Any) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        parent_loc, key = loc[:-1], loc[-1]
        allowed = _allowed_keys(model, parent_loc)
        hint = f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it"
        where = f" in {_dotted(parent_loc)}" if parent_loc else ""
        return f"unknown key '{key}'{where}: {hint}."
    if kind == "missing":
        return f"{_dotted(loc)}: required key is missing: add it."
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    elif message.startswith("Assertion failed, "):
        message = message[len("Assertion failed, ") :]
    return f"{_dotted(loc)}: {message}."


def _allowed_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Walk the model along `loc` and list the keys allowed there."""
    current: Any = model
    path = list(loc)
    while True:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not path:
                return [f.alias or name for name, f in current.model_fields.items()]
            key = path.pop(0)
            field = _field_by_key(current, str(key))
            if field is None:
                return []
            current = field
            continue
        origin = get_origin(current)
        if origin in (dict, list, tuple, typing.Union, types.UnionType) and path:
            args = get_args(current)
            if origin is dict:
                path.pop(0)
                current = args[1]
                continue
            if origin in (list, tuple):
                path.pop(0)
                current = args[0]
                continue
            # A tagged union: pydantic puts the tag in the location.
            tag = path.pop(0)
            member = _member_for_tag(args, str(tag))
            if member is None:
                return []
            current = member
            continue
        return []


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field.annotation
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
