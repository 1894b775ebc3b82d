"""Sending through an SMTP server: STARTTLS, implicit TLS, or plain on localhost.

The certificate is verified against the system's CAs or ``ca_file``. The user
name and password come from the environment variables bs.yaml names; neither
ever appears in a message bs prints.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path

from bs.config import SmtpMail
from bs.errors import BsError


class SmtpMailer:
    def __init__(self, config: SmtpMail, env: Mapping[str, str], *, ca_file: Path | None) -> None:
        self.config = config
        self.username = env.get(config.username_env) or None
        self.password = env.get(config.password_env) or None
        self.ca_file = ca_file
        if self.username and not self.password:
            raise BsError(
                f"{config.username_env} is set but {config.password_env} is not: set the SMTP "
                "password in the environment too."
            )

    @property
    def server(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise BsError(
                f"mail.ca_file {self.ca_file} could not be read as PEM certificates ({exc}): "
                "point it at the CA bundle that signed the SMTP server's certificate."
            ) from None

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        host = config.host.removeprefix("[").removesuffix("]")  # [::1] is written as a URL would
        if config.security == "tls":
            return smtplib.SMTP_SSL(
                host, config.port, timeout=config.timeout, context=self._context()
            )
        client = smtplib.SMTP(host, config.port, timeout=config.timeout)
        if config.security == "starttls":
            client.ehlo()
            if not client.has_extn("starttls"):
                client.close()
                raise BsError(
                    f"the SMTP server {self.server} does not offer STARTTLS: set mail.security "
                    "to tls if it speaks TLS from the start (port 465), or fix the server."
                )
            client.starttls(context=self._context())
            client.ehlo()
        return client

    def send(self, message: EmailMessage) -> str:
        try:
            client = self._connect()
            try:
                if self.username and self.password:
                    try:
                        client.login(self.username, self.password)
                    except UnicodeError:
                        raise BsError(
                            f"{self.config.username_env} or {self.config.password_env} holds "
                            "characters other than ASCII, which SMTP AUTH cannot send: use an "
                            "ASCII user name and password. Nothing was sent."
                        ) from None
                refused = client.send_message(message)
            finally:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    client.close()
        except BsError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise BsError(
                f"the SMTP server {self.server} refused the login ({exc.smtp_code}): check "
                f"{self.config.username_env} and {self.config.password_env}. Nothing was sent; "
                "run the command again to retry."
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise BsError(
                f"the SMTP server {self.server} refused every recipient "
                f"({', '.join(sorted(exc.recipients))}). Nothing was sent; check the addresses."
            ) from None
        except smtplib.SMTPResponseException as exc:
            said = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise BsError(
                f"the SMTP server {self.server} refused the message ({exc.smtp_code} "
                f"{' '.join(said.split())[:200]}). Nothing was sent; run the command again to retry."
            ) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
            # smtplib turns a read timeout into "disconnected"; the timeout is its context.
            if not isinstance(exc, TimeoutError) and not isinstance(exc.__context__, TimeoutError):
                raise BsError(
                    f"could not send mail through {self.server}: the server closed the "
                    "connection. Nothing was sent; run the command again to retry."
                ) from None
            raise BsError(
                f"the SMTP server {self.server} did not answer within {self.config.timeout:g} s, "
                "so the message may not have been sent; run the command again to retry."
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise BsError(
                f"the SMTP server {self.server}'s certificate could not be verified "
                f"({exc.verify_message}): set mail.ca_file to the CA that signed it."
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise BsError(
                f"could not send mail through {self.server}: {_reason(exc)}. Nothing was sent; "
                "run the command again to retry."
            ) from None
        if refused:
            raise BsError(
                f"the SMTP server {self.server} refused {', '.join(sorted(refused))}; the other "
                "recipients were sent the message. Check those addresses and run the command again."
            )
        return self.server


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, and is the port right?)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
