"""FilePrinter writes atomically, refuses unsafe names and reports failures readably."""

from __future__ import annotations

import os
import pathlib

import pytest

from label_printer.transports import FilePrinter, PrinterError


def test_creates_directory_and_returns_written_path(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "spool" / "labels"
    printer = FilePrinter(folder)
    assert folder.is_dir()
    path = printer.send("label-1.png", b"\x89PNG data")
    assert path == folder / "label-1.png"
    assert path.read_bytes() == b"\x89PNG data"
    assert sorted(os.listdir(folder)) == ["label-1.png"], "no temporary files left behind"


def test_overwrites_existing_file(tmp_path: pathlib.Path) -> None:
    printer = FilePrinter(tmp_path)
    printer.send("a.pdf", b"old")
    printer.send("a.pdf", b"new contents")
    assert (tmp_path / "a.pdf").read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["a.pdf"]


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "a\\b", "x/../y", "", "/etc/passwd"])
def test_rejects_unsafe_names(tmp_path: pathlib.Path, name: str) -> None:
    printer = FilePrinter(tmp_path / "out")
    with pytest.raises(ValueError, match="label file name"):
        printer.send(name, b"data")
    assert list(tmp_path.rglob("*")) == [tmp_path / "out"]


def test_data_is_fsynced_in_a_temp_file_before_the_rename(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        source, target = pathlib.Path(src), pathlib.Path(dst)
        assert source.parent == target.parent == tmp_path, "temp file must be in the same folder"
        assert source.read_bytes() == b"payload", "temp file must be complete before rename"
        assert not target.exists()
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    FilePrinter(tmp_path).send("job.pdf", b"payload")
    assert events[:2] == ["fsync", "replace"]


def test_failed_write_keeps_old_file_and_cleans_up(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    printer = FilePrinter(tmp_path)
    printer.send("job.pdf", b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PrinterError, match="No space left on device") as caught:
        printer.send("job.pdf", b"new")
    assert "job.pdf" in str(caught.value)
    assert (tmp_path / "job.pdf").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["job.pdf"]


def test_unusable_directory_raises_printer_error(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    with pytest.raises(PrinterError, match="not-a-folder"):
        FilePrinter(blocker / "labels")
