"""Redeeming links once per request, atomically, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from bs.core.links import LinkClaims
from bs.store.tables import link_attempts, link_redemptions

T = TypeVar("T")


class LinkLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def redeem(self, claims: LinkClaims, digest: str, by: str, now: datetime) -> bool:
        """True for the one redemption that wins; False when the request's link was used.

        An insert on the request's primary key: of any number of concurrent
        redemptions, the database lets exactly one in.
        """
        return self.redeem_and(claims, digest, by, now)[0]

    def redeem_and(
        self,
        claims: LinkClaims,
        digest: str,
        by: str,
        now: datetime,
        then: Callable[[Connection], T] | None = None,
    ) -> tuple[bool, T | None]:
        """`redeem`, and for the winner `then(connection)` in the same transaction
        (the gateway creates the deployment there: a redemption never lacks one)."""
        result: T | None = None
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(link_redemptions).values(
                        request_key=claims.request_key,
                        link_digest=digest,
                        pull_request=claims.pull_request,
                        requester=claims.requester,
                        redeemed_by=by,
                        redeemed_at=now,
                    )
                )
                if then is not None:
                    result = then(connection)
        except IntegrityError:
            return False, None
        return True, result

    def is_redeemed(self, request_key: str) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(link_redemptions.c.request_key).where(
                    link_redemptions.c.request_key == request_key
                )
            ).first()
        return found is not None

    def record_attempt(
        self, digest: str, request_key: str | None, who: str | None, outcome: str, now: datetime
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(link_attempts).values(
                    link_digest=digest,
                    request_key=request_key,
                    who=who,
                    outcome=outcome,
                    at=now,
                )
            )

    def attempts(self) -> list[dict[str, object]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(link_attempts).order_by(link_attempts.c.id))
            return [dict(row._mapping) for row in rows]
