"""Issue 7: what `ocop device provision` writes, and how it refuses bad options."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

import pytest
import yaml

from edge_agent.config import PRINT_FORMATS as EDGE_PRINT_FORMATS
from edge_agent.config import load_config
from firmware_config.device import PRINT_FORMATS, DeviceSpec, SpecError, manifest
from ocop_cli.main import main
from tests.unit.firmware.conftest import BASE_ARGS, TOKEN, Provision

UNITS = ("ocop-edge.service", "ocop-kiosk.service", "ocop-firstboot.service")


def _files(bundle: Path) -> set[str]:
    return {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()}


def _ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def test_edge_toml_loads_with_the_agents_own_loader(provision: Provision) -> None:
    bundle = provision("--mqtt-host", "mqtt.example.vn", "--mqtt-port", "8883")
    config = load_config(bundle / "files/etc/ocop/edge.toml")
    assert config.device_id == "kc-line-1"
    assert config.data_dir == Path("/var/lib/ocop-edge")
    assert config.lot_prefix == "KC"
    assert (config.ui.host, config.ui.port, config.ui.default_language) == ("127.0.0.1", 8080, "vi")
    assert (config.mqtt.host, config.mqtt.port) == ("mqtt.example.vn", 8883)
    assert config.assume_clock_synced is False
    assert (config.printer.url, config.printer.format) == ("", "png+pdf")
    [camera] = config.cameras
    assert (camera.uri, camera.interval_s, camera.evidence) == ("picamera2", 300, True)


@pytest.mark.parametrize(
    ("camera", "uris"), [("picamera", ["picamera2"]), ("usb", ["usb:0"]), ("none", [])]
)
def test_camera_choice_reaches_edge_toml_config_txt_and_packages(
    provision: Provision, camera: str, uris: list[str]
) -> None:
    bundle = provision("--camera", camera, "--data-dir", "/srv/ocop-data", "--lot-prefix", "KC2")
    config = load_config(bundle / "files/etc/ocop/edge.toml")
    assert [c.uri for c in config.cameras] == uris
    assert config.data_dir == Path("/srv/ocop-data") and config.lot_prefix == "KC2"
    fragment = (bundle / "config.txt.append").read_text()
    assert "dtparam=watchdog=on" in fragment
    assert f"camera_auto_detect={1 if camera == 'picamera' else 0}" in fragment
    firstboot = (bundle / "firstboot.sh").read_text()
    assert ("python3-picamera2" in firstboot) == (camera == "picamera")
    assert ("numpy<2" in (bundle / "pip-constraints.txt").read_text()) == (camera == "picamera")


def test_the_host_defaults_to_the_servers_and_the_mqtt_port_to_1883(provision: Provision) -> None:
    config = load_config(provision() / "files/etc/ocop/edge.toml")
    assert (config.mqtt.host, config.mqtt.port) == ("trace.example.vn", 1883)


def test_printer_formats_match_the_agents() -> None:
    assert PRINT_FORMATS == EDGE_PRINT_FORMATS


def test_units_carry_the_sandbox_and_the_paths(provision: Provision) -> None:
    bundle = provision("--prefix", "/opt/kit", "--data-dir", "/var/lib/ocop-edge")
    units = bundle / "files/etc/systemd/system"
    edge = _ini(units / "ocop-edge.service")["Service"]
    assert edge["ExecStart"] == "/opt/kit/bin/ocop edge --config /etc/ocop/edge.toml run"
    assert edge["User"] == "ocop" and edge["StateDirectory"] == "ocop-edge"
    assert edge["SupplementaryGroups"] == "video lp"
    assert edge["ReadWritePaths"] == "/var/lib/ocop-edge"
    for key, value in [
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("Restart", "always"),
    ]:
        assert edge[key] == value, key
    kiosk = _ini(units / "ocop-kiosk.service")
    assert kiosk["Service"]["PAMName"] == "login"
    assert kiosk["Service"]["TTYPath"] == "/dev/tty1"
    assert kiosk["Service"]["User"] == "ocop-kiosk"
    assert "After=ocop-edge.service " in (units / "ocop-kiosk.service").read_text()
    assert kiosk["Service"]["ExecStart"] == "/opt/kit/bin/ocop-kiosk"
    kiosk_sh = (bundle / "kiosk.sh").read_text()
    assert "exec cage" in kiosk_sh and "--kiosk" in kiosk_sh
    assert "http://127.0.0.1:8080/" in kiosk_sh
    first = _ini(units / "ocop-firstboot.service")
    assert first["Unit"]["ConditionPathExists"] == "!/var/lib/ocop-edge/.provisioned"
    assert first["Service"]["Type"] == "oneshot"
    assert first["Service"]["ExecStart"] == "/bin/bash /boot/firmware/ocop/firstboot.sh"


def test_a_data_dir_outside_var_lib_gets_no_state_directory(provision: Provision) -> None:
    bundle = provision("--data-dir", "/srv/ocop-data")
    edge = _ini(bundle / "files/etc/systemd/system/ocop-edge.service")["Service"]
    assert "StateDirectory" not in edge
    assert edge["ReadWritePaths"] == "/srv/ocop-data"


def test_watchdog_journald_and_timesyncd_drop_ins(provision: Provision) -> None:
    bundle = provision("--ntp", "0.vn.pool.ntp.org", "--ntp", "time.example.vn")
    etc = bundle / "files/etc/systemd"
    watchdog = _ini(etc / "system.conf.d/ocop-watchdog.conf")["Manager"]
    assert watchdog["RuntimeWatchdogSec"] == "14s"  # the bcm2835 watchdog's limit is ~15 s
    journal = _ini(etc / "journald.conf.d/ocop.conf")["Journal"]
    assert journal["Storage"] == "volatile" and journal["RuntimeMaxUse"]
    time = _ini(etc / "timesyncd.conf.d/ocop.conf")["Time"]
    assert time["NTP"] == "0.vn.pool.ntp.org time.example.vn"


def test_user_data_is_cloud_config_that_runs_bootstrap(provision: Provision) -> None:
    text = (provision("--timezone", "Asia/Bangkok") / "user-data").read_text()
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)
    assert data["hostname"] == "kc-line-1" and data["timezone"] == "Asia/Bangkok"
    assert data["runcmd"] == [["bash", "/boot/firmware/ocop/bootstrap.sh"]]


def test_cmdline_fragment_runs_bootstrap_once(provision: Provision) -> None:
    text = (provision() / "cmdline.txt.append").read_text()
    assert text.startswith(" systemd.run=/boot/firmware/ocop/bootstrap.sh ")
    assert "\n" not in text.rstrip("\n")


def test_manifest_and_readme_name_every_file(provision: Provision, tmp_path: Path) -> None:
    wheel = tmp_path / "ocop_edge_kit-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    bundle = provision("--kit-wheel", str(wheel))
    files = _files(bundle)
    assert "kit/ocop_edge_kit-0.1.0-py3-none-any.whl" in files
    listed = (bundle / "MANIFEST").read_text()
    for name in files:
        assert f"\n{name}\n    -> " in listed, name
    readme = (bundle / "README.txt").read_text()
    assert readme.index("TIẾNG VIỆT") < readme.index("ENGLISH")
    assert "DÙNG MỘT LẦN" in readme and "ONE-TIME" in readme
    firstboot = (bundle / "firstboot.sh").read_text()
    assert "kit_wheel=kit/ocop_edge_kit-0.1.0-py3-none-any.whl" in firstboot


def test_the_manifest_table_matches_the_rendered_files(provision: Provision) -> None:
    bundle = provision()
    spec = DeviceSpec(
        facility="KC", device="kc-line-1", server="https://trace.example.vn", token=TOKEN
    )
    assert {e.path for e in manifest(spec)} == _files(bundle)


def test_scripts_are_executable_and_the_token_is_private(provision: Provision) -> None:
    bundle = provision()
    for script in ("firstboot.sh", "bootstrap.sh", "kiosk.sh"):
        assert (bundle / script).stat().st_mode & stat.S_IXUSR, script
    assert stat.S_IMODE((bundle / "enrol-token").stat().st_mode) == 0o600
    assert (bundle / "enrol-token").read_text().strip() == TOKEN


def test_no_secret_but_the_token(provision: Provision, monkeypatch: pytest.MonkeyPatch) -> None:
    # Secrets the renderer could pick up from its surroundings if it ever read them.
    monkeypatch.setenv("OCOP_MQTT_PASSWORD", "edge-secret-marker-1")
    monkeypatch.setenv("OCOP_SERVER_MQTT_PASSWORD", "server-secret-marker-2")
    monkeypatch.setenv("OCOP_SERVER_WEB_SECRET", "web-secret-marker-3")
    bundle = provision()
    for path in bundle.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        assert "marker" not in text, path
        assert "PRIVATE KEY" not in text, path
        assert (TOKEN in text) == (path.name == "enrol-token"), path
    settings = [
        line
        for line in (bundle / "files/etc/ocop/edge.toml").read_text().splitlines()
        if not line.startswith("#")
    ]
    assert not [line for line in settings if "password" in line or "token" in line]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--facility", "KC!"), "--facility"),
        (("--facility", "TOOLONG"), "--facility"),
        (("--device", "KC_Line"), "--device"),
        (("--server", "ftp://x"), "--server"),
        (("--server", "trace.example.vn"), "--server"),
        (("--token", "short"), "--token"),
        (("--mqtt-port", "70000"), "--mqtt-port"),
        (("--ui-port", "0"), "--ui-port"),
        (("--timezone", "Mars/Olympus"), "--timezone"),
        (("--timezone", "../etc/passwd"), "--timezone"),
        (("--ntp", "bad host"), "--ntp"),
        (("--lot-prefix", "ABCDEF"), "--lot-prefix"),
        (("--prefix", "opt/ocop"), "--prefix"),
        (("--data-dir", "/var/lib/with space"), "--data-dir"),
        (("--data-dir", "/var/lib/../etc"), "--data-dir"),
        (("--kit-wheel", "/nonexistent/kit.whl"), "--kit-wheel"),
        (("--kit-spec=--index-url=http://evil",), "--kit-spec"),
        (("--printer-url", "lp0"), "--printer-url"),
        (("--camera-interval", "-1"), "--camera-interval"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    argv = ["device", "provision", "--out", str(tmp_path / "b"), *BASE_ARGS, *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    "args", [("--camera", "ipcam"), ("--display", "vga"), ("--kit-spec", "x", "--kit-wheel", "y")]
)
def test_argparse_choices_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["device", "provision", "--out", str(tmp_path / "b"), *BASE_ARGS, *args])
    assert exc.value.code == 2


def test_a_non_empty_out_folder_needs_force(
    provision: Provision, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = provision()
    argv = ["device", "provision", "--out", str(bundle), *BASE_ARGS]
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


def test_spec_rejects_bad_values_directly() -> None:
    with pytest.raises(SpecError, match="--display"):
        DeviceSpec(
            facility="KC",
            device="kc-line-1",
            server="https://x.vn",
            token=TOKEN,
            display="vga",
        )


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def test_tls_with_the_province_ca(provision: Provision, tmp_path: Path) -> None:
    ca = tmp_path / "province-ca.pem"
    ca.write_text(CA_PEM)
    bundle = provision("--mqtt-ca", str(ca))
    config = load_config(bundle / "files/etc/ocop/edge.toml")
    assert (config.mqtt.tls, config.mqtt.ca_file, config.mqtt.port) == (
        True,
        "/etc/ocop/mqtt-ca.pem",
        8883,
    )
    assert (bundle / "files/etc/ocop/mqtt-ca.pem").read_text() == CA_PEM
    assert "    /etc/ocop/mqtt-ca.pem\n" in (bundle / "firstboot.sh").read_text()
    spec = DeviceSpec(
        facility="KC",
        device="kc-line-1",
        server="https://trace.example.vn",
        token=TOKEN,
        mqtt_ca=ca,
    )
    assert {e.path for e in manifest(spec)} == _files(bundle)


def test_tls_with_the_system_cas_and_an_explicit_port(provision: Provision) -> None:
    bundle = provision("--mqtt-tls", "--mqtt-port", "8884")
    config = load_config(bundle / "files/etc/ocop/edge.toml")
    assert (config.mqtt.tls, config.mqtt.ca_file, config.mqtt.port) == (True, "", 8884)
    assert not (bundle / "files/etc/ocop/mqtt-ca.pem").exists()


def test_a_ca_file_with_a_private_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "bundle.pem"
    ca.write_text(CA_PEM + "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
    argv = ["device", "provision", "--out", str(tmp_path / "b"), *BASE_ARGS, "--mqtt-ca", str(ca)]
    assert main(argv) == 2
    assert "private key" in capsys.readouterr().err
