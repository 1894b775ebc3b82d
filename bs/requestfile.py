"""Reading a request file's bytes (from git, or the forge) as a `ReleaseRequest`: data,
through the safe YAML loader, size-limited, with one clear error naming the file."""

from __future__ import annotations

from bs.core.request import ReleaseRequest
from bs.errors import BsError
from bs.validation import validate_document
from bs.yamlio import MAX_YAML_BYTES, parse_yaml_with_lines


def load_request(data: bytes, path: str) -> ReleaseRequest:
    if len(data) > MAX_YAML_BYTES:
        raise BsError(f"{path} is {len(data)} bytes: too large for a request file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BsError(f"{path} is not UTF-8 text") from None
    parsed, lines = parse_yaml_with_lines(text, path)
    return validate_document(ReleaseRequest, parsed, path, lines)
