"""GitHub's REST shapes for mocked responses: ``../shared/github/github-rest-subset.json``.

`subset()` is the OpenAPI document; `example(name)` a copy of one of its
examples; `validate(body, schema)` checks a mocked body against a subset schema
(by name) or a schema referring to the subset's, so a test's GitHub answers
are shaped like GitHub's, not invented.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SUBSET = Path(__file__).resolve().parents[2] / "shared" / "github" / "github-rest-subset.json"


@cache
def subset() -> dict[str, Any]:
    return json.loads(SUBSET.read_text())  # type: ignore[no-any-return]


def example(name: str) -> dict[str, Any]:
    """A copy of the subset's example `name` (its value)."""
    found: dict[str, Any] = copy.deepcopy(subset()["components"]["examples"][name]["value"])
    return found


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` spelt as JSON Schema, for jsonschema."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "type" not in out and "enum" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _components() -> dict[str, Any]:
    return _nullable(subset()["components"])  # type: ignore[no-any-return]


def validate(body: Mapping[str, Any], schema: Mapping[str, Any] | str) -> None:
    """`body` against a subset schema (by name) or a schema referring to the subset's."""
    root: dict[str, Any] = (
        {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else dict(schema)
    )
    root["components"] = _components()
    jsonschema.Draft202012Validator(root).validate(body)
