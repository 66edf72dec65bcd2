"""edge.toml: unknown keys, wrong types and bad values are refused with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import ConfigError, load_config

VALID = """
device_id = "kc-test-1"
data_dir = "/srv/ocop"
lot_prefix = "KC"
assume_clock_synced = true

[ui]
port = 9000
default_language = "en"

[mqtt]
host = "broker.local"
chunk_size = 50
ack_timeout_s = 5

[printer]
directory = "/srv/labels"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_a_valid_file(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, VALID))
    assert cfg.device_id == "kc-test-1"
    assert cfg.data_dir == Path("/srv/ocop")
    assert cfg.journal_path == Path("/srv/ocop/journal.db")
    assert cfg.key_path == Path("/srv/ocop/device-key.pem")
    assert cfg.lot_prefix == "KC"
    assert cfg.assume_clock_synced is True
    assert (cfg.ui.port, cfg.ui.default_language, cfg.ui.host) == (9000, "en", "127.0.0.1")
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.chunk_size) == ("broker.local", 1883, 50)
    assert cfg.mqtt.ack_timeout_s == 5.0
    assert isinstance(cfg.mqtt.ack_timeout_s, float)
    assert cfg.mqtt_username == "kc-test-1"
    assert cfg.label_dir == Path("/srv/labels")


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, 'device_id = "kc-2"\n'))
    assert cfg.data_dir == Path("/var/lib/ocop-edge")
    assert cfg.label_dir == Path("/var/lib/ocop-edge/labels")
    assert (cfg.ui.port, cfg.mqtt.port, cfg.mqtt.chunk_size) == (8080, 1883, 100)
    assert cfg.lot_prefix == ""


def test_mqtt_password_from_env_or_credentials(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, 'device_id = "kc-2"\n'))
    assert cfg.mqtt_password({}) is None
    assert cfg.mqtt_password({"OCOP_MQTT_PASSWORD": "s3cret"}) == "s3cret"
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "mqtt-password").write_text("from-systemd\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path / "creds"), "OCOP_MQTT_PASSWORD": "x"}
    assert cfg.mqtt_password(env) == "from-systemd"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('device_id = "kc-1"\ndevcie_id = "kc-1"\n', "devcie_id"),
        ('device_id = "kc-1"\n[mqtt]\nprot = 1883\n', "prot"),
        ('device_id = "kc-1"\n[camera]\nindex = 0\n', "camera"),
    ],
)
def test_rejects_unknown_keys_naming_them(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(write(tmp_path, text))


def test_unknown_key_in_a_section_names_the_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mqtt.*prot"):
        load_config(write(tmp_path, 'device_id = "kc-1"\n[mqtt]\nprot = 1883\n'))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('device_id = "kc-1"\n[ui]\nport = "8080"\n', "ui.port"),
        ('device_id = "kc-1"\n[ui]\nport = true\n', "ui.port"),
        ('device_id = "kc-1"\n[ui]\nport = 80.5\n', "ui.port"),
        ('device_id = "kc-1"\n[mqtt]\nack_timeout_s = "10"\n', "mqtt.ack_timeout_s"),
        ('device_id = "kc-1"\n[mqtt]\nack_timeout_s = false\n', "mqtt.ack_timeout_s"),
        ('device_id = "kc-1"\nassume_clock_synced = "yes"\n', "assume_clock_synced"),
        ("device_id = 7\n", "device_id"),
        ('device_id = "kc-1"\ndata_dir = 3\n', "data_dir"),
        ('device_id = "kc-1"\ndata_dir = ""\n', "data_dir"),
        ('device_id = "kc-1"\nui = 3\n', "ui"),
    ],
)
def test_rejects_wrong_types(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    "text",
    [
        'device_id = "KC_1"\n',
        'device_id = "k"\n',
        'device_id = "-kc"\n',
        'data_dir = "/x"\n',  # device_id missing
        'device_id = "kc-1"\nlot_prefix = "TOOLONG"\n',
        'device_id = "kc-1"\nlot_prefix = "LÔ"\n',
        'device_id = "kc-1"\n[ui]\ndefault_language = "fr"\n',
        'device_id = "kc-1"\n[mqtt]\nchunk_size = 501\n',
        'device_id = "kc-1"\n[mqtt]\nchunk_size = 0\n',
    ],
)
def test_rejects_bad_values(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, text))


def test_missing_file_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="TOML"):
        load_config(write(tmp_path, "device_id = \n"))
