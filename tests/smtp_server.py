"""A real SMTP server for the notification tests (aiosmtpd), on a free loopback port: plain, or
with STARTTLS required before AUTH LOGIN/PLAIN, keeping every mail it accepts."""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ocop_cli.broker import free_port
from tests.tls_certs import TlsFiles, make_tls_files

USERNAME = "ocop-mailer"
PASSWORD = "thư-bí-mật-0001"


@dataclass
class Received:
    rcpt: list[str]
    msg: EmailMessage

    @property
    def body(self) -> str:
        part = self.msg.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


@dataclass
class _Handler:
    mails: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.mails.append(Received([str(r) for r in envelope.rcpt_tos], msg))
        return "250 OK"


def _check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class MailServer:
    """``tls_dir`` given: STARTTLS (a throwaway CA, :attr:`tls`) and login required."""

    def __init__(self, tls_dir: Path | None = None, port: int | None = None) -> None:
        self.handler = _Handler()
        self.port = port or free_port()
        self.tls: TlsFiles | None = None
        kwargs: dict[str, Any] = {}
        if tls_dir is not None:
            self.tls = make_tls_files(tls_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.cert, self.tls.key)
            kwargs = {
                "tls_context": context,
                "require_starttls": True,
                "authenticator": _check_login,
                "auth_required": True,
                "auth_require_tls": True,
            }
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> MailServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def mails(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.mails)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.mails if address in m.rcpt]

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.mails) >= count:
                return self.mails
            time.sleep(0.1)
        raise AssertionError(f"expected {count} mails, got {len(self.mails)}: {self.mails}")

    def toml(self) -> str:
        """The ``[smtp]`` section of a server.toml pointing at this server."""
        lines = [
            "[smtp]",
            'host = "127.0.0.1"',
            f"port = {self.port}",
            'from_address = "OCOP Hà Tĩnh <ocop@example.test>"',
            "timeout_s = 10.0",
        ]
        if self.tls is not None:
            lines += ["starttls = true", f'ca_file = "{self.tls.ca}"', f'username = "{USERNAME}"']
        else:
            lines.append("starttls = false")
        return "\n".join(lines) + "\n"
