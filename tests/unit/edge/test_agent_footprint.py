"""An agent without cameras never loads OpenCV or NumPy; with one, the camera loads them (issue
17: "load it only when a camera needs it"). Each case runs in a fresh interpreter, since this
test process has NumPy already."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.camera import scenes

# Opens the agent from an edge.toml, serves the touchscreen's home page (camera warnings and
# all), takes a snapshot when a camera is configured, and prints what got imported.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from edge_agent.agent import open_agent
    from edge_agent.camera_service import MANUAL
    from edge_agent.config import load_config
    from edge_agent.web import create_app

    agent = open_agent(load_config(Path(sys.argv[1])), with_sync=False)
    page = create_app(agent).test_client().get("/")
    loaded = {m: m in sys.modules for m in ("numpy", "cv2")}
    shot = None
    if agent.cameras.cameras:
        shot = agent.cameras.capture("day-chuyen", MANUAL)
    agent.close()
    print(json.dumps({"status": page.status_code, "at_start": loaded,
                      "photo": None if shot is None else shot.body["sha256"]}))
    """
)


def _run_agent(tmp_path: Path, cameras: str) -> dict[str, object]:
    config = tmp_path / "edge.toml"
    config.write_text(
        f'device_id = "kc-f"\ndata_dir = "{tmp_path / "data"}"\n{cameras}', encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_an_agent_without_cameras_never_loads_opencv_or_numpy(tmp_path: Path) -> None:
    result = _run_agent(tmp_path, "")
    assert result["status"] in (200, 302, 303)
    assert result["at_start"] == {"numpy": False, "cv2": False}
    assert result["photo"] is None


def test_an_agent_with_a_camera_loads_the_decoder_and_takes_photos(tmp_path: Path) -> None:
    video = scenes.write_video(tmp_path / "line.avi", scenes.live_frames(8))
    camera = f'[[cameras]]\nname = "day-chuyen"\nuri = "file:{video}"\n'
    result = _run_agent(tmp_path, camera)
    assert result["at_start"] == {"numpy": True, "cv2": True}
    assert isinstance(result["photo"], str) and len(result["photo"]) == 64
