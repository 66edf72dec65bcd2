"""Printer URLs pick the transport; CUPS, raw TCP and device files send bytes or say why not."""

from __future__ import annotations

import os
import pathlib
import socket
import stat
import threading

import pytest

from label_printer import FilePrinter, PrinterError, open_printer
from label_printer.devices import CupsPrinter, DevicePrinter, RawTcpPrinter


def test_file_urls(tmp_path: pathlib.Path) -> None:
    printer = open_printer(f"file://{tmp_path}/spool")
    assert isinstance(printer, FilePrinter) and printer.directory == tmp_path / "spool"
    printer.send("a.zpl", b"^XA^XZ")
    assert (tmp_path / "spool" / "a.zpl").read_bytes() == b"^XA^XZ"
    relative = open_printer("file:spool%20dir")
    assert isinstance(relative, FilePrinter) and relative.directory == pathlib.Path("spool dir")
    relative.directory.rmdir()


def test_cups_urls_build_lp_commands() -> None:
    local = open_printer("cups://Zebra_GK420")
    assert isinstance(local, CupsPrinter)
    assert local.command("job.pdf") == ["lp", "-d", "Zebra_GK420", "-t", "job.pdf"]
    remote = open_printer("cups://127.0.0.1:6310/labels?raw=1")
    assert isinstance(remote, CupsPrinter)
    expected = ["lp", "-h", "127.0.0.1:6310", "-d", "labels", "-t", "j", "-o", "raw"]
    assert remote.command("j") == expected


def test_tcp_and_usb_urls() -> None:
    tcp = open_printer("tcp://192.168.1.50")
    assert isinstance(tcp, RawTcpPrinter) and (tcp.host, tcp.port, tcp.timeout) == (
        "192.168.1.50",
        9100,
        10,
    )
    tcp = open_printer("tcp://printer.local:9101?timeout=2.5")
    assert isinstance(tcp, RawTcpPrinter) and (tcp.host, tcp.port, tcp.timeout) == (
        "printer.local",
        9101,
        2.5,
    )
    usb = open_printer("usb:///dev/usb/lp0")
    assert isinstance(usb, DevicePrinter) and usb.path == pathlib.Path("/dev/usb/lp0")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("lpr://queue", "unknown printer URL"),
        ("/tmp/labels", "unknown printer URL"),
        ("file://otherhost/labels", "not a host"),
        ("cups://bad name", "not a CUPS queue name"),
        ("cups://-o", "not a CUPS queue name"),
        ("tcp://", "tcp://host:9100"),
        ("tcp://printer:abc", "bad raw TCP printer URL"),
        ("tcp://printer?timeout=soon", "bad raw TCP printer URL"),
        ("usb://host/dev/usb/lp0", "usb:///dev/usb/lp0"),
    ],
)
def test_bad_urls_are_value_errors(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_printer(url)


def fake_lp(tmp_path: pathlib.Path, script: str) -> pathlib.Path:
    """A stand-in ``lp`` first on PATH: a real program, recording what it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lp = bin_dir / "lp"
    lp.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    lp.chmod(lp.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def path_with(bin_dir: pathlib.Path) -> str:
    return f"{bin_dir}:/usr/bin:/bin"


def test_cups_sends_data_on_stdin_and_returns_job_id(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = f'echo "$@" > {tmp_path}/args; cat > {tmp_path}/data\necho "request id is labels-7"'
    monkeypatch.setenv("PATH", path_with(fake_lp(tmp_path, script)))
    assert open_printer("cups://labels?raw=1").send("job.zpl", b"^XA\x00^XZ") == "labels-7"
    assert (tmp_path / "args").read_text().split() == ["-d", "labels", "-t", "job.zpl", "-o", "raw"]
    assert (tmp_path / "data").read_bytes() == b"^XA\x00^XZ"


def test_cups_refusal_and_missing_lp(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = 'cat > /dev/null; echo "lp: The printer or class does not exist." >&2; exit 1'
    monkeypatch.setenv("PATH", path_with(fake_lp(tmp_path, script)))
    with pytest.raises(
        PrinterError, match="CUPS refused the label job for printer nope: lp: The printer"
    ):
        open_printer("cups://nope").send("a.pdf", b"%PDF")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no lp anywhere
    with pytest.raises(PrinterError, match="lp command is missing"):
        open_printer("cups://nope").send("a.pdf", b"%PDF")


def test_raw_tcp_refused_is_a_readable_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the printer connects
    with pytest.raises(PrinterError, match=f"127.0.0.1:{port} refused the connection"):
        open_printer(f"tcp://127.0.0.1:{port}?timeout=2").send("a.zpl", b"^XA^XZ")


def test_raw_tcp_sends_everything() -> None:
    received = bytearray()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                while chunk := conn.recv(65536):
                    received.extend(chunk)

        thread = threading.Thread(target=serve)
        thread.start()
        data = bytes(range(256)) * 4000
        open_printer(f"tcp://127.0.0.1:{port}").send("big.tspl", data)
        thread.join(5)
    assert bytes(received) == data


def test_device_file_receives_bytes_and_is_never_created(tmp_path: pathlib.Path) -> None:
    device = tmp_path / "lp0"
    device.write_bytes(b"")
    DevicePrinter(device).send("a.escpos", b"\x1b@hello")
    assert device.read_bytes() == b"\x1b@hello"
    with pytest.raises(PrinterError, match=r"No printer at .*missing: is it plugged in"):
        DevicePrinter(tmp_path / "missing").send("a", b"x")
    assert not (tmp_path / "missing").exists()


def test_device_fifo_without_reader_and_with_one(tmp_path: pathlib.Path) -> None:
    fifo = tmp_path / "lp1"
    os.mkfifo(fifo)
    with pytest.raises(PrinterError, match="is not responding"):  # ENXIO: nobody reading
        DevicePrinter(fifo).send("a", b"x")
    got = bytearray()

    def read() -> None:
        with open(fifo, "rb") as reader:
            got.extend(reader.read())

    thread = threading.Thread(target=read)
    thread.start()
    for _ in range(200):  # wait for the reader to open its end
        try:
            DevicePrinter(fifo, timeout=5).send("b", b"z" * 200_000)
            break
        except PrinterError:
            threading.Event().wait(0.01)
    thread.join(5)
    assert bytes(got) == b"z" * 200_000


def test_device_permission_error(tmp_path: pathlib.Path) -> None:
    device = tmp_path / "lp2"
    device.write_bytes(b"")
    device.chmod(0o400)
    if os.geteuid() == 0:
        # Root writes past file modes; sysfs refuses even root a write to a read-only node.
        device = pathlib.Path("/sys/kernel/notes")
        assert device.exists()
    with pytest.raises(PrinterError, match="'lp' group"):
        DevicePrinter(device).send("a", b"x")
