"""The store's tables.

``link_redemptions`` has one row per request whose link was redeemed: its
primary key is the request, not the link, so any one redemption kills every
link of the request. Links are kept only as SHA-256 digests.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

metadata = MetaData()

link_redemptions = Table(
    "link_redemptions",
    metadata,
    Column("request_key", String(200), primary_key=True),
    Column("link_digest", String(64), nullable=False),
    Column("pull_request", Integer, nullable=False),
    Column("requester", String(100), nullable=False),
    Column("redeemed_by", String(100), nullable=False),
    Column("redeemed_at", DateTime(timezone=True), nullable=False),
)

link_attempts = Table(
    "link_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("link_digest", String(64), nullable=False),
    Column("request_key", String(200)),
    Column("who", String(100)),
    Column("outcome", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
