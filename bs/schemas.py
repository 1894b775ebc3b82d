"""Write the JSON Schemas of bs's files under ``schemas/`` (``make schemas``).

Editors validate ``bs.yaml``, ``policies/apps.yaml`` and request files with
them; a test fails when a model changes and its schema is not regenerated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bs.config import AppsFile, BsConfig
from bs.core.policy import Policy
from bs.core.policytest import PolicyTestFile
from bs.core.request import ReleaseRequest

SCHEMAS: dict[str, type[BaseModel]] = {
    "bs.schema.json": BsConfig,
    "apps.schema.json": AppsFile,
    "request.schema.json": ReleaseRequest,
    "policy.schema.json": Policy,
    "policy-test.schema.json": PolicyTestFile,
}


def render(model: type[BaseModel]) -> str:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(by_alias=True, mode="validation"),
    }
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = folder / name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("schemas")
    for path in write_all(folder):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
