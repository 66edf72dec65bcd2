"""``ocop server run`` loads no OpenCV or NumPy: the server installs no camera stack (issue 14).

A real server process runs with Python's import-time log on (``PYTHONPROFILEIMPORTTIME``),
which names every module the process imports, whenever it is imported; the test serves a few
pages first so that imports made while handling requests are in the log too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, make_server, wait_until

pytestmark = pytest.mark.integration

EDGE_ONLY = ("cv2", "numpy", "edge_agent", "sqlite_utils")


def imported_modules(log: str) -> set[str]:
    """Every module named in ``-X importtime`` lines (``import time: self | total | name``)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in log.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def test_the_import_log_parser_reads_nested_modules() -> None:
    log = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |     numpy.core\n"
        "import time:        80 |        200 |   cv2\n"
        "Serving on http://127.0.0.1:8000\n"
    )
    assert imported_modules(log) == {"imported package", "numpy.core", "cv2"}


def test_server_run_imports_no_opencv_or_numpy(
    tmp_path: Path, broker: Mosquitto, procs: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(tmp_path, broker.port)
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    proc = server.run(procs)
    for path in ("/", "/l/KC-NM-261122-01", "/office/login", "/api/v1/time"):
        requests.get(server.base_url + path, timeout=10)
    log_path = server.dir / "log"
    wait_until(
        lambda: "sync_server.web" in imported_modules(log_path.read_text(encoding="utf-8")),
        10,
        "the server's web modules in the import log",
    )
    assert proc.poll() is None, log_path.read_text(encoding="utf-8")[-2000:]
    procs.stop_all()
    modules = imported_modules(log_path.read_text(encoding="utf-8"))
    assert "sync_server.cli" in modules and "sqlalchemy" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in EDGE_ONLY)
    assert loaded == [], loaded
