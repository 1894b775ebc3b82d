"""Request ids: random, at least 80 bits, safe in URLs and file names."""

from __future__ import annotations

import base64
import re
from datetime import datetime

#: Bytes of randomness in a request id (80 bits).
REQUEST_ID_RANDOM_BYTES = 10

REQUEST_ID_PATTERN = r"^[0-9]{8}-[a-z2-7]{16}$"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


def new_request_id(now: datetime, random_bytes: bytes) -> str:
    """``YYYYMMDD-`` then 16 base32 characters of randomness (sortable by day)."""
    if len(random_bytes) < REQUEST_ID_RANDOM_BYTES:
        raise ValueError(f"a request id needs {REQUEST_ID_RANDOM_BYTES} random bytes")
    token = base64.b32encode(random_bytes[:REQUEST_ID_RANDOM_BYTES]).decode("ascii").lower()
    return f"{now:%Y%m%d}-{token}"


def is_request_id(value: str) -> bool:
    return _REQUEST_ID.fullmatch(value) is not None
