"""Open a printer by URL: ``file:``, ``cups:``, ``tcp:`` or ``usb:`` picks the transport."""

from __future__ import annotations

import pathlib
from urllib.parse import unquote, urlsplit

from label_printer.devices import CupsPrinter, DevicePrinter, RawTcpPrinter
from label_printer.transports import FilePrinter, Printer


def open_printer(url: str) -> Printer:
    """The transport for ``url``; ``ValueError`` if the URL is malformed or its scheme unknown.

    ``file:///abs/dir`` (or ``file:rel/dir``), ``cups://QUEUE`` or ``cups://host:port/QUEUE``
    (add ``?raw=1`` to pass printer languages through unfiltered), ``tcp://host[:9100]``
    (``?timeout=10`` seconds) and ``usb:///dev/usb/lp0``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    options = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file printer URLs name a local folder, not a host: {url}")
        path = unquote(parts.path)
        if not path:
            raise ValueError(f"file printer URL has no folder: {url}")
        return FilePrinter(pathlib.Path(path))
    if scheme == "cups":
        if parts.path.strip("/"):
            return CupsPrinter(
                unquote(parts.path.strip("/")), parts.netloc, options.get("raw") == "1"
            )
        return CupsPrinter(unquote(parts.netloc), "", options.get("raw") == "1")
    if scheme == "tcp":
        return RawTcpPrinter.from_url(parts, options)
    if scheme == "usb":
        if not parts.path or parts.netloc:
            raise ValueError(f"usb printer URLs look like usb:///dev/usb/lp0, got {url}")
        return DevicePrinter(pathlib.Path(unquote(parts.path)))
    raise ValueError(
        f"unknown printer URL {url!r}: use file:///folder, cups://QUEUE, tcp://host:9100 "
        "or usb:///dev/usb/lp0"
    )
