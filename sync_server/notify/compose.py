"""The notification mails' text (pure): what happened, where, since when, and a link; Vietnamese
first, then English, from the server's gettext catalogs."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import quote

from sync_server.notify.outbox import Owed
from sync_server.vn_time import to_vn
from trace_protocol.locales import LOCALES, N_, Messages, format_date, format_datetime

# The server pages' catalogs (docs/translations.md): the mails use the same alert names as the
# dashboard. Read from their folder, not through sync_server.web, which sits above this part.
MESSAGES = Messages(Path(__file__).resolve().parents[1] / "web" / "translations")

# Alerts listed one by one in a mail; past this, the mail says how many more.
MAX_LINES = 20


def translate_in(lang: str, key: str, **params: object) -> str:
    return MESSAGES.text(lang, key, **params)


def _when(lang: str, ts: float) -> str:
    moment = to_vn(ts)
    return "" if moment is None else format_datetime(moment, lang)


def _where(o: Owed) -> str:
    if o.facility_code is None:
        return "—"
    name = f"{o.facility_name} ({o.facility_code})" if o.facility_name else o.facility_code
    return f"{name}, {o.district}" if o.district else name


def _device(o: Owed) -> str:
    if o.dev_id is None:
        return ""
    return f"{o.device_name} ({o.dev_id})" if o.device_name else o.dev_id


def page_url(office_url: str, o: Owed) -> str:
    """The office page to look at: the device's, else the facility's, else the dashboard."""
    if o.dev_id is not None:
        return f"{office_url}/office/devices/{quote(o.dev_id, safe='')}"
    if o.facility_code is not None:
        return f"{office_url}/office/facilities/{quote(o.facility_code, safe='')}"
    return f"{office_url}/office/"


def _what(lang: str, kind: str) -> str:
    return translate_in(lang, f"alert_{kind}")


def _alert_block(lang: str, o: Owed, office_url: str) -> list[str]:
    lines = [
        translate_in(lang, N_("notify_what"), what=_what(lang, o.kind)),
        translate_in(lang, N_("notify_where"), where=_where(o)),
    ]
    if o.dev_id is not None:
        lines.append(translate_in(lang, N_("notify_device"), device=_device(o)))
    lines.append(translate_in(lang, N_("notify_since"), when=_when(lang, o.raised_at)))
    if o.resolved_at is not None:
        lines.append(translate_in(lang, N_("notify_resolved"), when=_when(lang, o.resolved_at)))
    if o.detail:
        lines.append(translate_in(lang, N_("notify_detail"), detail=o.detail))
    lines.append(translate_in(lang, N_("notify_link"), url=page_url(office_url, o)))
    return lines


def _footer(lang: str, office_url: str) -> str:
    return translate_in(lang, N_("notify_footer"), url=f"{office_url}/office/notifications")


def _message(to: str, sender: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> "))
    msg.set_content(body)  # UTF-8; the mail library picks a transfer encoding
    return msg


def alert_mail(mail: Sequence[Owed], sender: str, office_url: str) -> EmailMessage:
    """One immediate mail: the newest alert of a throttle group, and how many more the group
    gathered since the oldest (a flapping device: one mail, 'and 41 more since 07:02')."""
    head, earlier = mail[-1], mail[:-1]
    blocks = []
    for lang in LOCALES:
        lines = [translate_in(lang, N_("notify_intro")), ""]
        lines += _alert_block(lang, head, office_url)
        if earlier:
            lines.append(
                translate_in(
                    lang,
                    N_("notify_more"),
                    n=len(earlier),
                    when=_when(lang, earlier[0].raised_at),
                )
            )
        lines += ["", _footer(lang, office_url)]
        blocks.append("\n".join(lines))
    what = " / ".join(dict.fromkeys(_what(lang, head.kind) for lang in LOCALES))
    subject = f"OCOP: {what} — {_where(head)}"
    if head.dev_id is not None:
        subject += f" — {head.dev_id}"
    return _message(head.email, sender, subject, "\n\n— — —\n\n".join(blocks) + "\n")


def digest_mail(mail: Sequence[Owed], sender: str, office_url: str, now: float) -> EmailMessage:
    """One person's daily digest: every alert queued for it since the last, newest last."""
    day = to_vn(now)
    assert day is not None
    blocks = []
    for lang in LOCALES:
        lines = [translate_in(lang, N_("notify_digest_intro"), n=len(mail)), ""]
        for o in mail[:MAX_LINES]:
            lines += [*_alert_block(lang, o, office_url), ""]
        if len(mail) > MAX_LINES:
            lines.append(translate_in(lang, N_("notify_digest_more"), n=len(mail) - MAX_LINES))
            lines.append("")
        lines.append(_footer(lang, office_url))
        blocks.append("\n".join(lines))
    subject = " / ".join(
        translate_in(lang, N_("notify_digest_subject"), day=format_date(day, lang))
        for lang in LOCALES
    )
    return _message(mail[0].email, sender, subject, "\n\n— — —\n\n".join(blocks) + "\n")


def check_mail(to: str, sender: str, office_url: str) -> EmailMessage:
    """What ``ocop server notify --test`` sends: proof the SMTP settings work."""
    body = "\n\n— — —\n\n".join(
        translate_in(lang, N_("notify_test_body"), url=f"{office_url}/office/notifications")
        for lang in LOCALES
    )
    subject = " / ".join(translate_in(lang, N_("notify_test_subject")) for lang in LOCALES)
    return _message(to, sender, subject, body + "\n")
