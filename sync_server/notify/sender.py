"""Send mails over SMTP (smtplib): STARTTLS with the certificate checked, login, timeouts."""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.message import EmailMessage
from types import TracebackType

from sync_server.config import SmtpConfig


class SendError(Exception):
    """A mail that did not go; the message says why (never the password)."""


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib's login encodes the credentials as ASCII: a password with Vietnamese letters
    fails before it is sent. AUTH PLAIN carries UTF-8 (RFC 4616), so use it for those."""
    if (username + password).isascii():
        smtp.login(username, password)
        return
    if not smtp.has_extn("auth") or "PLAIN" not in smtp.esmtp_features["auth"].upper().split():
        raise smtplib.SMTPNotSupportedError("the server offers no AUTH PLAIN for a UTF-8 login")
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, resp = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, resp)


class Mailer:
    """One SMTP connection, opened at the first mail and reused for the round's others."""

    def __init__(self, config: SmtpConfig, password: str | None) -> None:
        self.config = config
        self._password = password
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        c = self.config
        smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
        try:
            smtp.ehlo()
            if c.starttls:
                context = ssl.create_default_context(cafile=c.ca_file or None)
                smtp.starttls(context=context)
                smtp.ehlo()
            if c.username:
                _login(smtp, c.username, self._password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, msg: EmailMessage) -> None:
        """Send one mail; :class:`SendError` if it did not go (the connection is dropped, the
        next mail opens a new one)."""
        try:
            if self._smtp is None:
                self._smtp = self._open()
            refused = self._smtp.send_message(msg)
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            self.close()
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            raise SendError(f"refused: {', '.join(sorted(refused))}")

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
