"""What the daemon benchmarks (`daemon_load.py`, `daemon_page.py`) share: a build
calibrated on the repo's FER+ fixture, a looping clip, a free port and the real
`emoedge daemon run` in a process of its own. A module of its own so that neither
script imports the other (the way `timing.py` serves the LiteRT scripts)."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_video(path: Path) -> Path:
    """Six photos, a second each, at 350x350: faces to find and classify."""
    import cv2

    photos = sorted((REPO / "tests/fixtures/wild/images").glob("*.jpg"))
    if not photos:
        photos = sorted((REPO.parent / "shared/datasets/wild-sample/images").glob("*.jpg"))[:6]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (350, 350))
    for photo in photos:
        image = cv2.resize(cv2.imread(str(photo)), (350, 350))
        for _ in range(30):
            writer.write(image)
    writer.release()
    return path


def fixture_build(target: str, out: Path) -> Path:
    """zoo:mini_xception exported for `target`, calibrated on the repo's FER+ fixture
    (a benchmark of the daemon does not need a calibration that measures accuracy)."""
    from emoedge.export import export_build

    return export_build(
        "zoo:mini_xception",
        target,
        out=out,
        data=REPO / "tests/fixtures/ferplus",
        calibration_size=64,
        validation_size=64,
        allow_drop=100.0,
    )


def write_config(
    path: Path, build: Path, video: Path, port: int, *, realtime: bool, http: str, events: str = ""
) -> Path:
    """The daemon.toml both benchmarks run: `build` on `video` looping, served on
    loopback at `port`, events in events.sqlite beside it; `http` and `events` are
    each benchmark's own lines of those tables."""
    path.write_text(f"""
[pipeline]
build = "{Path(build).resolve()}"
[source]
spec = "{video}"
loop = true
realtime = {"true" if realtime else "false"}
[http]
bind = "127.0.0.1:{port}"
{http}
[events]
log = "events.sqlite"
{events}""")
    return path


def start_daemon(config: Path, log: IO[bytes]) -> subprocess.Popen:
    """`emoedge daemon run CONFIG` in a fresh process, its output into `log`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from emoedge.cli import main; main()",
            "daemon",
            "run",
            str(config),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_ready(
    port: int, daemon: subprocess.Popen, log: Path, token: str | None = None, timeout: float = 120.0
) -> None:
    """Poll /readyz until it answers 200; a daemon that exits or takes longer than
    `timeout` ends the benchmark with its log's last lines (no row measured half-started)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.time() + timeout
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/readyz", headers=headers)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        if time.time() > deadline or daemon.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise SystemExit(f"the daemon did not get ready; see {log}:\n{tail}")
        time.sleep(0.2)
