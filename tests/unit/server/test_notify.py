"""E-mail notifications (issue 16) through a real SMTP server (aiosmtpd, STARTTLS and login):
the right alerts reach the right officers once, a flapping device sends one mail, a digest is
one mail a day, a failed send is retried and never lost, two senders never send one mail twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from ocop_cli.main import main
from sync_server.accounts.scopes import PROVINCE, limit
from sync_server.accounts.users import create_user
from sync_server.config import NotifyConfig, ServerConfig, SmtpConfig
from sync_server.devices.registry import import_catalog, register_device
from sync_server.notify import rules
from sync_server.notify.loop import RoundResult, notify_round
from sync_server.notify.sender import Mailer
from sync_server.notify.subscriptions import add_subscription
from sync_server.store.alerts import raise_alert, resolve_alerts
from sync_server.store.db import alerts, users
from sync_server.store.office_tables import notify_outbox
from tests.smtp_server import PASSWORD, MailServer
from tests.unit.server.conftest import CATALOG, REPO
from tests.unit.server.office_client import PASSWORD as USER_PASSWORD
from trace_protocol.signing import DeviceKey

HONEY = REPO / "ocop_cli" / "data" / "cuong-nga-honey.json"
KINDS = ("silent", "camera", "doubtful_scan")
T0 = 1_780_000_000.0  # 2026-05-29 03:26:40 in Vietnam


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    server = MailServer(tls_dir=tmp_path_factory.mktemp("smtp-tls")).start()
    yield server
    server.stop()


def _config(tmp_path: Path, mail: MailServer, **notify: object) -> ServerConfig:
    assert mail.tls is not None
    return ServerConfig(
        data_dir=tmp_path,
        public_base_url="http://ocop.test",
        smtp=SmtpConfig(
            host="127.0.0.1",
            port=mail.port,
            starttls=True,
            ca_file=str(mail.tls.ca),
            username="ocop-mailer",
            from_address="OCOP <ocop@example.test>",
            timeout_s=10.0,
        ),
        notify=NotifyConfig(office_url="https://office.test", **notify),  # type: ignore[arg-type]
    )


def _officer(engine: Engine, name: str, districts: list[str] | None, role: str = "officer") -> str:
    create_user(engine, name, USER_PASSWORD, role)
    address = f"{name}@example.test"
    with engine.begin() as conn:
        conn.execute(
            update(users).where(users.c.username == name).values(email=address, districts=districts)
        )
    return address


def _subscribe(
    engine: Engine,
    name: str,
    where: str = rules.PROVINCE,
    value: str = "",
    kinds: list[str] | None = None,
    mode: str = rules.IMMEDIATE,
    districts: list[str] | None = None,
) -> None:
    with engine.begin() as conn:
        add_subscription(
            conn, name, limit(districts), where, value, kinds, mode, KINDS, now=T0 - 10
        )


def _round(engine: Engine, config: ServerConfig, now: float) -> RoundResult:
    with Mailer(config.smtp, PASSWORD) as mailer:
        return notify_round(engine, config, mailer, now=now)


def _alert(engine: Engine, dev: str | None, facility: str, kind: str, at: float, **kw: str) -> None:
    with engine.begin() as conn:
        assert raise_alert(conn, dev, facility, kind, f"{kind} detail", **kw)
        newest = conn.execute(select(func.max(alerts.c.id))).scalar_one()
        conn.execute(update(alerts).where(alerts.c.id == newest).values(created_at=at))


@pytest.fixture
def province(engine: Engine) -> Engine:
    """KC (huyện Thạch Hà) with a device, Cường Nga (huyện Hương Sơn) with one."""
    import_catalog(engine, CATALOG, "http://ocop.test")
    import_catalog(engine, HONEY, "http://ocop.test")
    register_device(engine, "kc-1", "KC", DeviceKey.generate().public_key_b64)
    register_device(engine, "cn-1", "CN", DeviceKey.generate().public_key_b64)
    return engine


def test_rules_throttle_one_mail_per_key_and_window() -> None:
    rows = [rules.Pending(i, "ha|silent|kc-1|", T0 + i, None) for i in range(5)]
    assert [len(g) for g in rules.due_groups(rows, {}, T0 + 10, 3600)] == [5]
    assert rules.due_groups(rows, {"ha|silent|kc-1|": T0}, T0 + 10, 3600) == []
    assert len(rules.due_groups(rows, {"ha|silent|kc-1|": T0}, T0 + 3601, 3600)) == 1
    busy = [*rows, rules.Pending(9, "ha|silent|kc-1|", T0, T0 + 60)]
    assert rules.due_groups(busy, {}, T0 + 10, 3600) == []  # one of them is being sent


def test_rules_digest_cutoff_is_the_hour_in_vietnam() -> None:
    cut = rules.digest_cutoff(T0, 7)  # 03:26 in Vietnam: yesterday's 07:00
    assert cut < T0 and T0 - cut < 86400
    assert rules.digest_cutoff(cut + 1, 7) == cut
    assert rules.digest_cutoff(cut + 86400, 7) == cut + 86400


def test_alerts_reach_the_right_officers_once_within_their_district(
    province: Engine, tmp_path: Path, mail: MailServer
) -> None:
    engine, config = province, _config(tmp_path, mail)
    before = len(mail.mails)
    thach_ha = _officer(engine, "thachha", ["huyện Thạch Hà"])
    huong_son = _officer(engine, "huongson", ["huyện Hương Sơn"])
    chief = _officer(engine, "chief", None, role="admin")
    _officer(engine, "nomail", None)  # subscribed, but an address is needed to be mailed
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == "nomail").values(email=None))
    _subscribe(engine, "thachha", districts=["huyện Thạch Hà"])
    # A district officer's "province" subscription still mails only their district.
    _subscribe(engine, "huongson", kinds=["doubtful_scan"], districts=["huyện Hương Sơn"])
    _subscribe(engine, "chief", rules.DISTRICT, "huyện Hương Sơn", kinds=["silent"])
    _subscribe(engine, "nomail")

    _alert(engine, "kc-1", "KC", "silent", T0)
    _alert(engine, "kc-1", "KC", "camera", T0 + 1)
    _alert(engine, None, "CN", "doubtful_scan", T0 + 2, subject="L1/0001")
    _alert(engine, "cn-1", "CN", "silent", T0 + 3)
    result = _round(engine, config, T0 + 30)
    assert (result.sent, result.failed) == (4, 0)
    got = mail.mails[before:]
    to_th = [m for m in got if m.rcpt == [thach_ha]]
    assert len(to_th) == 2  # KC's silent and camera; nothing of Hương Sơn
    assert all("KC" in str(m.msg["Subject"]) for m in to_th)
    assert len([m for m in got if m.rcpt == [huong_son]]) == 1
    assert len([m for m in got if m.rcpt == [chief]]) == 1
    silent = next(m for m in to_th if "kc-1" in str(m.msg["Subject"]) and "im lặng" in m.body)
    body = silent.body
    # Vietnamese first, then English; what, where, since when, and the link.
    assert body.index("Sự việc:") < body.index("What:")
    assert "Công ty TNHH MTV KC (KC), huyện Thạch Hà" in body
    assert "Từ lúc: 29/05/2026 03:26" in body and "Since: 29/05/2026 03:26" in body
    assert "https://office.test/office/devices/kc-1" in body
    scan = next(m for m in got if m.rcpt == [huong_son])
    assert "https://office.test/office/facilities/CN" in scan.body

    # The next rounds send nothing again.
    assert _round(engine, config, T0 + 60).sent == 0
    assert len(mail.mails) == before + 4


def test_a_flapping_device_sends_one_mail_then_one_summing_up(
    province: Engine, tmp_path: Path, mail: MailServer
) -> None:
    engine, config = province, _config(tmp_path, mail, throttle_minutes=60.0)
    address = _officer(engine, "flap", None)
    _subscribe(engine, "flap", kinds=["silent"])
    before = len(mail.to(address))
    for i in range(12):  # silent, heard, silent, heard … within the hour
        _alert(engine, "kc-1", "KC", "silent", T0 + i * 60)
        with engine.begin() as conn:
            resolve_alerts(conn, "kc-1", "silent", by="system")
        _round(engine, config, T0 + i * 60 + 30)
    assert len(mail.to(address)) == before + 1
    # After the window, the alerts the throttle held go in one mail that says how many.
    assert _round(engine, config, T0 + 3600 + 60).sent == 1
    mails = mail.to(address)[before:]
    assert len(mails) == 2
    assert "và 10 cảnh báo cùng loại nữa từ" in mails[1].body
    assert "and 10 more of this kind since" in mails[1].body
    with engine.connect() as conn:
        rows = conn.execute(
            select(notify_outbox.c.suppressed, func.count())
            .where(notify_outbox.c.username == "flap", notify_outbox.c.sent_at.is_not(None))
            .group_by(notify_outbox.c.suppressed)
        ).all()
    assert dict((bool(s), n) for s, n in rows) == {False: 2, True: 10}


def test_a_digest_subscriber_gets_one_digest_a_day(
    province: Engine, tmp_path: Path, mail: MailServer
) -> None:
    engine, config = province, _config(tmp_path, mail, digest_hour=7)
    address = _officer(engine, "daily", None)
    _subscribe(engine, "daily", mode=rules.DIGEST)
    before = len(mail.to(address))
    for i, kind in enumerate(("silent", "camera", "doubtful_scan")):
        _alert(engine, "kc-1" if kind != "doubtful_scan" else None, "KC", kind, T0 + i)
        _round(engine, config, T0 + 30 + i)
    assert len(mail.to(address)) == before  # 03:26: before the day's 07:00
    digest_at = rules.digest_cutoff(T0, 7) + 86400
    assert _round(engine, config, digest_at + 5).sent == 1
    assert _round(engine, config, digest_at + 65).sent == 0
    (digest,) = mail.to(address)[before:]
    assert "Tóm tắt cảnh báo OCOP 29/05/2026" in str(digest.msg["Subject"])
    assert "3 cảnh báo kể từ thư tóm tắt trước." in digest.body
    assert "3 alert(s) since the last digest." in digest.body


def test_a_failed_send_is_retried_with_backoff_and_never_lost(
    province: Engine, tmp_path: Path, mail: MailServer
) -> None:
    down = MailServer()  # a port nobody listens on until started
    config = _config(tmp_path, mail)
    config = ServerConfig(
        data_dir=tmp_path,
        smtp=SmtpConfig(
            host="127.0.0.1",
            port=down.port,
            starttls=False,
            from_address="OCOP <ocop@example.test>",
            timeout_s=5.0,
        ),
        notify=config.notify,
    )
    engine = province
    address = _officer(engine, "retry", None)
    _subscribe(engine, "retry")
    _alert(engine, "kc-1", "KC", "silent", T0)
    first = _round(engine, config, T0 + 30)
    assert (first.sent, first.failed) == (0, 1)
    with engine.connect() as conn:
        row = conn.execute(select(notify_outbox).where(notify_outbox.c.username == "retry")).one()
    assert row.attempts == 1 and row.sent_at is None and "Connection" in row.error
    down.start()
    try:
        assert _round(engine, config, T0 + 60).sent == 0  # backing off: 1 min after a failure
        assert _round(engine, config, T0 + 30 + rules.backoff_s(1) + 1).sent == 1
        assert len(down.to(address)) == 1
    finally:
        down.stop()


@pytest.mark.parametrize("senders", [2])
def test_two_senders_at_once_send_each_mail_once(
    province: Engine, tmp_path: Path, mail: MailServer, senders: int
) -> None:
    engine, config = province, _config(tmp_path, mail)
    address = _officer(engine, "twice", None)
    _subscribe(engine, "twice")
    before = len(mail.to(address))
    for i, dev in enumerate(("kc-1", "cn-1")):
        _alert(engine, dev, "KC" if dev == "kc-1" else "CN", "silent", T0 + i)
    start = threading.Barrier(senders)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            _round(engine, config, T0 + 30)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(mail.to(address)) == before + 2


def test_no_province_scope_for_out_of_scope_subscriptions(province: Engine) -> None:
    from sync_server.notify.subscriptions import SubscriptionError

    with pytest.raises(SubscriptionError), province.begin() as conn:
        add_subscription(
            conn, "x", limit(["huyện Thạch Hà"]), rules.FACILITY, "CN", None, "immediate", KINDS
        )
    with province.begin() as conn:
        add_subscription(conn, "x", PROVINCE, rules.FACILITY, "CN", None, "immediate", KINDS)


def test_the_cli_sends_a_test_mail_with_starttls_and_the_password_from_the_environment(
    tmp_path: Path,
    mail: MailServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "server.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n{mail.toml()}', encoding="utf-8")
    before = len(mail.to("chi@example.test"))
    monkeypatch.setenv("OCOP_SMTP_PASSWORD", "wrong-password")
    assert main(["server", "--config", str(config), "notify", "--test", "chi@example.test"]) == 1
    assert "wrong-password" not in capsys.readouterr().err
    monkeypatch.setenv("OCOP_SMTP_PASSWORD", PASSWORD)
    assert main(["server", "--config", str(config), "notify", "--test", "chi@example.test"]) == 0
    (got,) = mail.to("chi@example.test")[before:]
    assert "Thư thử" in got.body and "A test mail" in got.body


def test_an_account_disabled_or_without_address_is_mailed_nothing_until_it_has_one(
    province: Engine, tmp_path: Path, mail: MailServer
) -> None:
    engine, config = province, _config(tmp_path, mail)
    address = _officer(engine, "gone", None)
    before = len(mail.to(address))  # the server is the module's: the other database's run too
    _subscribe(engine, "gone")
    _alert(engine, "kc-1", "KC", "silent", T0)
    with engine.begin() as conn:  # queued, then the address is removed before it is sent
        from sync_server.notify import outbox

        outbox.queue_new(conn, T0 + 10)
        conn.execute(update(users).where(users.c.username == "gone").values(email=None))
    result = _round(engine, config, T0 + 30)
    assert (result.sent, result.failed) == (0, 1)
    with engine.connect() as conn:
        row = conn.execute(select(notify_outbox).where(notify_outbox.c.username == "gone")).one()
    assert row.attempts == 1 and "no e-mail address" in row.error
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == "gone").values(email=address))
    assert _round(engine, config, T0 + 30 + rules.backoff_s(1) + 1).sent == 1
    assert len(mail.to(address)) == before + 1
