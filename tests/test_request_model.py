"""The release request model (``bs.core.request``), its YAML file, its JSON Schema; request ids."""

from __future__ import annotations

import base64
import copy
import json
import re
import urllib.parse
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bs import schemas
from bs.config import AppsFile, BsConfig
from bs.core.ids import REQUEST_ID_RANDOM_BYTES, is_request_id, new_request_id
from bs.core.policy import Policy
from bs.core.policytest import PolicyTestFile
from bs.core.request import (
    PatchInfo,
    ReleaseRequest,
    VersionRef,
    patch_file_path,
    request_file_path,
)
from bs.errors import BsError
from bs.yamlio import dump_yaml, parse_yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "schemas"

SHA_A = "a" * 40
SHA_B = "0123456789abcdef0123456789abcdef01234567"
SHA256_COMMIT = "f" * 64
DIGEST = "9" * 64
REQUEST_ID = "20240601-abcdefghijklmnop"


def make_request(**changes: Any) -> ReleaseRequest:
    fields: dict[str, Any] = {
        "id": REQUEST_ID,
        "app": "frontend",
        "requested_by": "alice",
        "requested_at": datetime(2024, 6, 1, 12, 30, 45, tzinfo=UTC),
        "from_": VersionRef(tag="release_9", commit=SHA_A),
        "to": VersionRef(tag="release_10", commit=SHA_B),
        "patch": PatchInfo(
            file=patch_file_path("frontend", REQUEST_ID, compressed=False),
            sha256=DIGEST,
            files_changed=3,
            insertions=10,
            deletions=2,
            commits=4,
        ),
        "reason": "Fix the banner",
    }
    fields.update(changes)
    return ReleaseRequest(**fields)


def round_trip(request: ReleaseRequest) -> ReleaseRequest:
    text = dump_yaml(request.to_document())
    return ReleaseRequest.model_validate(parse_yaml(text, request.request_path))


def valid_document() -> dict[str, Any]:
    return make_request().to_document()


# --- YAML round trip ---------------------------------------------------------


ROUND_TRIP_CASES: dict[str, ReleaseRequest] = {
    "typical": make_request(),
    "first-deploy": make_request(from_=None),
    "no-reason": make_request(reason=None),
    "staging": make_request(environment="staging"),
    "sha256-commit-untagged": make_request(to=VersionRef(tag=None, commit=SHA256_COMMIT)),
    "untagged-deployed": make_request(from_=VersionRef(tag=None, commit=SHA_A)),
    # Strings YAML would otherwise read as other types.
    "float-like-tag": make_request(to=VersionRef(tag="1.0", commit=SHA_B), reason="null"),
    "bool-like-tag": make_request(to=VersionRef(tag="yes", commit=SHA_B), reason="0755"),
    "unicode-multiline-reason": make_request(
        reason="Ünïcødé, 名前, emoji 🚀, quotes ' \" and: colons # hash\nsecond line"
    ),
    "bot-requester": make_request(requested_by="dependabot[bot]"),
    "recorded-address": make_request(requester_email="alice@example.gov.uk"),
}


def test_an_address_is_written_only_when_recorded() -> None:
    assert "requester_email" not in make_request().to_document()
    recorded = make_request(requester_email="alice@example.gov.uk").to_document()
    assert list(recorded)[-1] == "requester_email"
    assert recorded["requester_email"] == "alice@example.gov.uk"


@pytest.mark.parametrize("request_", ROUND_TRIP_CASES.values(), ids=ROUND_TRIP_CASES.keys())
def test_yaml_round_trip_equals_the_original(request_: ReleaseRequest) -> None:
    assert round_trip(request_) == request_


def test_document_uses_the_file_keys_in_order() -> None:
    document = make_request().to_document()
    assert list(document) == [
        "version",
        "id",
        "app",
        "environment",
        "requested_by",
        "requested_at",
        "from",
        "to",
        "patch",
        "reason",
    ]
    assert document["version"] == 1
    assert document["requested_at"] == "2024-06-01T12:30:45Z"
    assert document["from"] == {"tag": "release_9", "commit": SHA_A}
    text = dump_yaml(document)
    assert text.startswith("version: 1\nid: 20240601-abcdefghijklmnop\n")
    assert "\nfrom:\n  tag: release_9\n" in text


def test_first_deploy_has_from_null() -> None:
    request = make_request(from_=None)
    document = request.to_document()
    assert "from" in document and document["from"] is None
    assert "\nfrom: null\n" in dump_yaml(document)
    assert round_trip(request).from_ is None


def test_from_is_required_even_when_null() -> None:
    document = valid_document()
    del document["from"]
    with pytest.raises(ValidationError, match="from"):
        ReleaseRequest.model_validate(document)


def test_requested_at_is_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    request = make_request(requested_at=datetime(2024, 6, 1, 14, 30, 45, tzinfo=paris))
    assert request.requested_at == datetime(2024, 6, 1, 12, 30, 45, tzinfo=UTC)
    assert request.requested_at.utcoffset() == timedelta(0)
    assert request.to_document()["requested_at"] == "2024-06-01T12:30:45Z"
    assert round_trip(request) == request


def test_round_trip_keeps_a_time_taken_from_the_clock() -> None:
    """`bs open-request` builds the request from ``datetime.now(UTC)``, which has
    microseconds; the file holds whole seconds. The request in memory (used for
    the pull request and --json output) must equal the one read back from its file."""
    request = make_request(requested_at=datetime(2024, 6, 1, 12, 30, 45, 123456, tzinfo=UTC))
    assert round_trip(request) == request


def test_unquoted_yaml_timestamp_is_accepted() -> None:
    """Someone editing by hand may write an unquoted timestamp; bs's YAML keeps it a
    string, which the model parses."""
    text = dump_yaml(valid_document()).replace(
        "requested_at: '2024-06-01T12:30:45Z'", "requested_at: 2024-06-01T12:30:45Z"
    )
    assert "requested_at: 2024-06-01T12:30:45Z" in text
    assert parse_yaml(text, "r.yaml")["requested_at"] == "2024-06-01T12:30:45Z"
    parsed = ReleaseRequest.model_validate(parse_yaml(text, "r.yaml"))
    assert parsed == make_request()


def test_paths() -> None:
    request = make_request()
    assert request.request_path == "requests/frontend/20240601-abcdefghijklmnop.yaml"
    assert request_file_path("frontend", REQUEST_ID) == request.request_path
    assert patch_file_path("frontend", REQUEST_ID, compressed=True).endswith(".patch.gz")
    assert patch_file_path("frontend", REQUEST_ID, compressed=False).endswith(".patch")


def test_request_is_immutable() -> None:
    request = make_request()
    with pytest.raises(ValidationError):
        request.app = "other"  # type: ignore[misc]


# --- what is refused ---------------------------------------------------------


def _set(document: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(document)
    *parents, last = dotted.split(".")
    target = document
    for key in parents:
        target = target[key]
    target[last] = value
    return document


BAD_VALUES: list[tuple[str, Any]] = [
    ("version", 2),
    ("id", "20240601-ABCDEFGHIJKLMNOP"),
    ("id", "20240601-abcdefghijklmno"),  # 15 characters
    ("id", "2024061-abcdefghijklmnop"),
    ("id", "20240601-abcdefghijklmnop/../../x"),
    ("id", "20240601-abcdefghijklmn01"),  # 0 and 1 are not base32
    ("id", "20240601-abcdefghijklmnop\n"),
    ("app", "Front End"),
    ("app", "../etc"),
    ("app", ""),
    ("app", "-frontend"),
    ("environment", "Prod/1"),
    ("requested_by", "alice smith"),
    ("requested_by", "-alice"),
    ("requested_by", ""),
    ("requested_at", "2024-06-01T12:30:45"),  # naive
    ("requested_at", "yesterday"),
    ("to.commit", "A" * 40),  # uppercase
    ("to.commit", "a" * 39),
    ("to.commit", "a" * 41),
    ("to.commit", "g" * 40),
    ("to.commit", "a" * 40 + "\n"),
    ("to.commit", "release_10"),
    ("from.commit", "abc1234"),  # abbreviated
    ("to.commit", None),
    ("patch.sha256", "A" * 64),
    ("patch.sha256", "a" * 63),
    ("patch.insertions", -1),
    ("patch.files_changed", -1),
    ("patch.commits", "many"),
    ("patch.files_changed", 10**12 + 1),  # more than git could count
    ("patch.insertions", 10**12 + 1),
    ("patch.deletions", 10**12 + 1),
    ("patch.commits", 10**12 + 1),
    ("requested_by", "_alice"),
    ("to", None),
    ("patch", None),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_values_are_refused(key: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        ReleaseRequest.model_validate(_set(valid_document(), key, value))
    # The error points at the bad key.
    locations = {".".join(str(p) for p in error["loc"]) for error in caught.value.errors()}
    assert any(loc.startswith(key) for loc in locations), locations


def test_naive_datetime_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        make_request(requested_at=datetime(2024, 6, 1, 12, 30, 45))


@pytest.mark.parametrize(
    "where", ["", "to.", "from.", "patch."], ids=["top", "to", "from", "patch"]
)
def test_unknown_keys_are_refused(where: str) -> None:
    document = _set(valid_document(), f"{where}approved_by", "mallory")
    with pytest.raises(ValidationError) as caught:
        ReleaseRequest.model_validate(document)
    assert [e["type"] for e in caught.value.errors()] == ["extra_forbidden"]


def test_python_attribute_name_is_not_a_file_key() -> None:
    """The file says `from`; `from_` is only the Python name."""
    document = valid_document()
    document["from_"] = document.pop("from")
    with pytest.raises(ValidationError):
        ReleaseRequest.from_document(document)
    document["from"] = document.pop("from_")
    assert ReleaseRequest.from_document(document).from_ is not None


def test_the_largest_counts_and_an_enterprise_managed_users_login_are_accepted() -> None:
    document = _set(valid_document(), "patch.insertions", 10**12)
    document["requested_by"] = "alice_acme"
    request = ReleaseRequest.model_validate(document)
    assert (request.patch.insertions, request.requested_by) == (10**12, "alice_acme")
    assert _validator("request.schema.json").is_valid(document)


def test_a_64_hex_commit_is_accepted() -> None:
    request = make_request(to=VersionRef(tag="release_10", commit=SHA256_COMMIT))
    assert round_trip(request).to.commit == SHA256_COMMIT


def test_request_yaml_is_parsed_with_the_safe_loader() -> None:
    text = dump_yaml(valid_document()) + "evil: !!python/object/apply:os.system ['true']\n"
    with pytest.raises(BsError, match="not valid YAML"):
        parse_yaml(text, "requests/frontend/x.yaml")


def test_yaml_syntax_errors_name_the_file_and_line() -> None:
    with pytest.raises(BsError) as caught:
        parse_yaml("version: 1\nid: [unclosed\n", "requests/frontend/x.yaml")
    assert caught.value.message.startswith("requests/frontend/x.yaml: not valid YAML at line ")


# --- published JSON Schemas ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(schemas.SCHEMAS))
def test_published_schema_is_up_to_date(name: str) -> None:
    path = SCHEMA_DIR / name
    assert path.is_file(), f"schemas/{name} is missing: run `make schemas`"
    assert path.read_text(encoding="utf-8") == schemas.render(schemas.SCHEMAS[name]), (
        f"schemas/{name} is stale (its model changed): run `make schemas` and commit the result"
    )


def test_every_model_file_has_a_schema_and_no_schema_is_orphaned() -> None:
    expected: dict[str, type[BaseModel]] = {
        "bs.schema.json": BsConfig,
        "apps.schema.json": AppsFile,
        "request.schema.json": ReleaseRequest,
        "policy.schema.json": Policy,
        "policy-test.schema.json": PolicyTestFile,
    }
    assert expected == schemas.SCHEMAS
    on_disk = {p.name for p in SCHEMA_DIR.glob("*.json")}
    assert on_disk == set(schemas.SCHEMAS), "run `make schemas`; remove schemas with no model"


def test_write_all_writes_what_render_produces(tmp_path: Path) -> None:
    written = schemas.write_all(tmp_path / "out")
    assert {p.name for p in written} == set(schemas.SCHEMAS)
    for path in written:
        assert path.read_text(encoding="utf-8") == schemas.render(schemas.SCHEMAS[path.name])
        json.loads(path.read_text(encoding="utf-8"))


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_request_schema_accepts_valid_requests() -> None:
    validator = _validator("request.schema.json")
    for request in (make_request(), make_request(from_=None, reason=None)):
        document = request.to_document()
        assert list(validator.iter_errors(document)) == []
        # And exactly as a YAML file holds it.
        assert list(validator.iter_errors(parse_yaml(dump_yaml(document), "r.yaml"))) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("approved_by", "mallory"),
        ("to.extra", 1),
        ("version", 2),
        ("id", "not-an-id"),
        ("app", "Front End"),
        ("to.commit", "A" * 40),
        ("from.commit", "abc1234"),
        ("patch.sha256", "x"),
        ("patch.insertions", -1),
        ("patch.commits", 10**12 + 1),
        ("to", None),
    ],
)
def test_request_schema_refuses_what_the_model_refuses(key: str, value: Any) -> None:
    document = _set(valid_document(), key, value)
    with pytest.raises(ValidationError):
        ReleaseRequest.model_validate(document)
    assert not _validator("request.schema.json").is_valid(document)


def test_request_schema_requires_the_required_keys() -> None:
    validator = _validator("request.schema.json")
    for key in ("id", "app", "requested_by", "requested_at", "from", "to", "patch"):
        document = valid_document()
        del document[key]
        assert not validator.is_valid(document), key


@pytest.mark.parametrize(
    ("schema_name", "model", "path"),
    [
        ("bs.schema.json", BsConfig, "bs.yaml"),
        ("apps.schema.json", AppsFile, "policies/apps.yaml"),
    ],
)
def test_the_repositorys_own_config_files_are_valid(
    schema_name: str, model: type[BaseModel], path: str
) -> None:
    data = parse_yaml((ROOT / path).read_text(encoding="utf-8"), path)
    model.model_validate(data)
    assert list(_validator(schema_name).iter_errors(data)) == []


def test_apps_schema_refuses_an_unknown_app_key() -> None:
    data = parse_yaml((ROOT / "policies/apps.yaml").read_text(encoding="utf-8"), "apps.yaml")
    first = next(iter(data["apps"]))
    data["apps"][first]["tagz"] = {"scheme": "release"}
    assert not _validator("apps.schema.json").is_valid(data)
    with pytest.raises(ValidationError):
        AppsFile.model_validate(data)


def test_bs_schema_refuses_an_unknown_forge_kind() -> None:
    data = parse_yaml((ROOT / "bs.yaml").read_text(encoding="utf-8"), "bs.yaml")
    data["forge"]["kind"] = "gitlab"
    assert not _validator("bs.schema.json").is_valid(data)
    with pytest.raises(ValidationError):
        BsConfig.model_validate(data)


# --- request ids -----------------------------------------------------------------

NOW = datetime(2024, 6, 1, 23, 59, 59, tzinfo=UTC)


def _token(request_id: str) -> bytes:
    return base64.b32decode(request_id.split("-", 1)[1].upper())


def test_request_id_shape() -> None:
    request_id = new_request_id(NOW, bytes(range(REQUEST_ID_RANDOM_BYTES)))
    assert is_request_id(request_id)
    assert request_id.startswith("20240601-")
    assert re.fullmatch(r"[0-9a-z-]+", request_id)
    # Safe in URLs and file names as it is.
    assert urllib.parse.quote(request_id, safe="") == request_id
    assert "/" not in request_id and "\\" not in request_id and not request_id.startswith(".")
    # Valid in the model, as a file name.
    assert make_request(id=request_id).request_path.endswith(f"/{request_id}.yaml")


def test_request_id_carries_at_least_80_random_bits() -> None:
    assert REQUEST_ID_RANDOM_BYTES * 8 >= 80
    random_bytes = bytes(range(200, 200 + REQUEST_ID_RANDOM_BYTES))
    # The id encodes all ten bytes, losslessly.
    assert _token(new_request_id(NOW, random_bytes)) == random_bytes


def test_request_id_refuses_too_little_randomness() -> None:
    with pytest.raises(ValueError, match="random bytes"):
        new_request_id(NOW, b"\0" * (REQUEST_ID_RANDOM_BYTES - 1))


def test_request_id_uses_only_the_first_ten_bytes() -> None:
    ten = b"0123456789"
    assert new_request_id(NOW, ten + b"extra") == new_request_id(NOW, ten)


@given(
    st.binary(min_size=REQUEST_ID_RANDOM_BYTES, max_size=REQUEST_ID_RANDOM_BYTES),
    st.binary(min_size=REQUEST_ID_RANDOM_BYTES, max_size=REQUEST_ID_RANDOM_BYTES),
)
def test_different_random_bytes_give_different_ids(a: bytes, b: bytes) -> None:
    id_a, id_b = new_request_id(NOW, a), new_request_id(NOW, b)
    assert is_request_id(id_a) and is_request_id(id_b)
    assert (id_a == id_b) == (a == b)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "20240601-abcdefghijklmnop\n",
        "20240601-ABCDEFGHIJKLMNOP",
        "20240601_abcdefghijklmnop",
        "20240601-abcdefghijklmnopq",
        "2024-06-01-abcdefghijklmnop",
        "../20240601-abcdefghijklmnop",
        "20240601-abcdefghijklmno=",
    ],
)
def test_is_request_id_refuses_other_strings(value: str) -> None:
    assert not is_request_id(value)
