"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, with TLS.

`make_pki` makes a private CA and a server certificate for 127.0.0.1 and
localhost with `cryptography`; `SmtpServer` runs aiosmtpd's Controller on a
free port (asked of the kernel, never fixed) in one of these modes:
STARTTLS required, implicit TLS, STARTTLS with AUTH, or (to play a server
whose STARTTLS was stripped) no TLS at all but AUTH offered in the clear. Its
`Recorder` keeps what a mail server receives: the envelope, the raw message
bytes, and every login attempted.
`Silent` and `Dropping` are servers that misbehave at the TCP level.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Mode = Literal["starttls", "tls", "auth", "plain"]

#: The account the AUTH mode accepts.
SMTP_USER = "bs-mailer"
SMTP_PASSWORD = "correct-horse-battery-staple-4f9d2c"


# -- certificates ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path  #: the CA's certificate (PEM): what mail.ca_file points at
    cert_file: Path  #: the server's certificate, signed by the CA
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: str, public_key: Any) -> x509.CertificateBuilder:
    """What every test certificate shares: names, key, serial, a day's validity."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


#: The names the test servers answer to.
SERVER_NAMES = x509.SubjectAlternativeName(
    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
)


def _write(pki: Pki, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pki:
    """The server's certificate and key, as PEM files where `pki` says."""
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


def make_pki(folder: Path) -> Pki:
    """A CA and a server certificate for 127.0.0.1 and localhost, valid for a day."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        _builder("bs test CA", "bs test CA", ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder("127.0.0.1", "bs test CA", key.public_key())
        .add_extension(SERVER_NAMES, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return _write(pki, cert, key)


def make_self_signed(folder: Path) -> Pki:
    """A self-signed server certificate for 127.0.0.1 and localhost: its own CA, as a
    small organisation's mail relay often has. mail.ca_file names the certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder("127.0.0.1", "127.0.0.1", key.public_key())
        .add_extension(SERVER_NAMES, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _write(
        Pki(folder / "server.pem", folder / "server.pem", folder / "server.key"), cert, key
    )


# -- the server -----------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message as the server took it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool
    login: str | None

    def parsed(self) -> EmailMessage:
        message = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Recorder:
    """An aiosmtpd handler keeping each message; it can refuse RCPT or DATA instead."""

    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)  #: every AUTH attempt's user name
    refuse_rcpt: str | None = None  #: e.g. "550 5.1.1 no such user"
    refuse_data: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.refuse_rcpt is not None:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_data is not None:
            return self.refuse_data
        data = envelope.original_content or envelope.content
        assert isinstance(data, bytes)
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        with self.lock:
            self.messages.append(
                Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), data, tls, login)
            )
        return "250 Message accepted for delivery"

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator: SMTP_USER with SMTP_PASSWORD, nothing else."""
        login = auth_data.login if isinstance(auth_data, LoginPassword) else b"?"
        with self.lock:
            self.logins.append(login.decode("utf-8", "replace"))
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _FreePortController(Controller):
    """Controller on port 0: the kernel picks a free port, read back once bound."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """aiosmtpd on 127.0.0.1: `mode` starttls (required), tls (implicit), auth
    (STARTTLS required, then AUTH with SMTP_USER / SMTP_PASSWORD required) or
    plain (no TLS offered; AUTH offered in the clear, as after a STARTTLS strip)."""

    def __init__(self, pki: Pki, mode: Mode) -> None:
        self.mode = mode
        self.recorder = Recorder()
        context = pki.server_context()
        kwargs: dict[str, Any] = {}
        if mode == "tls":
            kwargs["ssl_context"] = context
        elif mode != "plain":
            kwargs.update(tls_context=context, require_starttls=True)
        if mode in ("auth", "plain"):
            kwargs.update(
                authenticator=self.recorder.authenticate,
                auth_required=True,
                auth_require_tls=mode == "auth",
            )
        self.controller = _FreePortController(
            self.recorder, hostname="127.0.0.1", port=0, server_hostname="mx.test", **kwargs
        )

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def security(self) -> str:
        return "tls" if self.mode == "tls" else "starttls"

    def received(self) -> list[Received]:
        return self.recorder.received()

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


# -- servers that misbehave -----------------------------------------------------------


class _Listener:
    """A TCP listener on a free port whose thread does something to each connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Listener:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


class Silent(_Listener):
    """Accepts connections and never says a word (nor closes them)."""

    def handle(self, conn: socket.socket) -> None:
        self.accepted.append(conn)


class Dropping(_Listener):
    """Accepts each connection and closes it at once."""

    def handle(self, conn: socket.socket) -> None:
        conn.close()


def closed_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
    return port
