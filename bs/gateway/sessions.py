"""Server-side sessions in the gateway's store.

The cookie holds 256 random bits; the store holds only their SHA-256, the
session's data and its expiry. Signing in and redeeming a link rotate the
id (a new session, the old one deleted), so an id seen before either is
worth nothing after it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import Engine, delete, insert, select
from werkzeug.datastructures import CallbackDict

from bs.store.tables import web_sessions

LIFETIME = timedelta(hours=8)


class ServerSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, initial: dict[str, Any] | None = None, sid: str | None = None) -> None:
        def changed(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, changed)
        self.sid = sid
        self.modified = False
        #: Set by `rotate`: save under a new id and delete the old one.
        self.rotated = False

    def rotate(self, data: dict[str, Any]) -> None:
        """Start a new session holding `data` (sign-in, redemption)."""
        self.clear()
        self.update(data)
        self.rotated = True


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii", "replace")).hexdigest()


class StoreSessionInterface(SessionInterface):
    def __init__(self, engine: Engine, *, secure: bool, now: Callable[[], datetime]) -> None:
        self.engine = engine
        self.secure = secure
        self.now = now
        # The __Host- prefix makes browsers refuse it unless Secure, Path=/ and no Domain.
        self.cookie_name = "__Host-bs_session" if secure else "bs_session"

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.cookie_name)
        if not sid or len(sid) > 100:
            return ServerSession()
        with self.engine.connect() as connection:
            row = connection.execute(
                select(web_sessions.c.data, web_sessions.c.expires_at).where(
                    web_sessions.c.id_digest == _digest(sid)
                )
            ).first()
        if row is None:
            return ServerSession()
        if row.expires_at <= self.now():
            return ServerSession()
        return ServerSession(json.loads(row.data), sid)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if not (session.modified or session.rotated):
            return
        old = session.sid
        with self.engine.begin() as connection:
            if old and (session.rotated or not session):
                connection.execute(
                    delete(web_sessions).where(web_sessions.c.id_digest == _digest(old))
                )
                session.sid = None
            if not session:
                response.delete_cookie(self.cookie_name, path="/", secure=self.secure,
                                       httponly=True, samesite="Lax")  # fmt: skip
                return
            data = json.dumps(dict(session))
            if session.sid is None:
                session.sid = secrets.token_urlsafe(32)
                connection.execute(
                    insert(web_sessions).values(
                        id_digest=_digest(session.sid),
                        data=data,
                        expires_at=self.now() + LIFETIME,
                    )
                )
                response.set_cookie(
                    self.cookie_name,
                    session.sid,
                    max_age=int(LIFETIME.total_seconds()),
                    path="/",
                    secure=self.secure,
                    httponly=True,
                    samesite="Lax",
                )
            else:
                connection.execute(
                    web_sessions.update()
                    .where(web_sessions.c.id_digest == _digest(session.sid))
                    .values(data=data)
                )
        # Old sessions are swept now and then; an expired one is refused when read anyway.
        if secrets.randbelow(100) == 0:
            with self.engine.begin() as connection:
                connection.execute(
                    delete(web_sessions).where(web_sessions.c.expires_at < self.now())
                )
