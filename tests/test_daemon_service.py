"""The daemon end to end: a real build, a real video, `emoedge daemon run` as a subprocess.

Every test talks to the process only the way a user would: HTTP on loopback,
an MQTT broker (real Mosquitto), signals, the SQLite file on disk.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from daemon_support import Broker, DaemonProcess, Subscriber, free_port

REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"


def _config(
    folder: Path,
    build: Path,
    source: str,
    port: int,
    *,
    extra: str = "",
    source_extra: str = "realtime = true\nloop = true",
    pipeline_extra: str = "",
    bind: str = "127.0.0.1",
    events: str = "",
) -> Path:
    path = folder / "daemon.toml"
    path.write_text(f"""
[pipeline]
build = "{build}"
smoothing = "none"
{pipeline_extra}

[source]
spec = "{source}"
retry_initial_s = 0.2
retry_max_s = 1.0
{source_extra}

[http]
bind = "{bind}:{port}"

[events]
log = "events.sqlite"
min_frames = 1
{events}
{extra}
""")
    return path


def _sse_events(port: int, token: str | None, count: int, timeout: float = 20.0) -> list[dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", "/v1/events", headers={"Authorization": f"Bearer {token}"} if token else {})
    resp = conn.getresponse()
    assert resp.status == 200
    events, deadline = [], time.time() + timeout
    try:
        while len(events) < count and time.time() < deadline:
            line = resp.readline().decode()
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    finally:
        conn.close()
    return events


def _notify_socket(folder: Path) -> tuple[socket.socket, str]:
    path = str(folder / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    return sock, path


def _drain(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            return messages


def test_daemon_serves_every_endpoint_publishes_and_stops_cleanly(tmp_path, daemon_build, video):
    broker = Broker(tmp_path).start()
    sub = Subscriber(broker.port, "cam/#")
    notify_sock, notify_path = _notify_socket(tmp_path)
    port = free_port()
    (tmp_path / "token").write_text(TOKEN)
    config = _config(
        tmp_path,
        daemon_build,
        str(video),
        port,
        bind="0.0.0.0",
        extra=f"""
[mqtt]
enabled = true
host = "127.0.0.1"
port = {broker.port}
topic_prefix = "cam"
""",
    )
    text = config.read_text().replace(
        'bind = "0.0.0.0', 'token_file = "token"\npreview = true\nbind = "0.0.0.0'
    )
    config.write_text(text)
    daemon = DaemonProcess(
        config, port, token=TOKEN, env={"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "1000000"}
    )
    try:
        daemon.wait_ready()
        # Beyond loopback: a missing or wrong token is refused on every endpoint.
        for path in (
            "/healthz",
            "/readyz",
            "/v1/status",
            "/v1/latest",
            "/v1/events",
            "/metrics",
            "/v1/preview.mjpeg",
        ):
            assert daemon.request(path, token=None)[0] == 401, path
            assert daemon.request(path, token="wrong-token-0123456789ab")[0] == 401, path
        assert daemon.request("/v1/reload", method="POST", token=None)[0] == 401

        assert daemon.json("/healthz")["status"] == "ok"
        status = daemon.wait_for(
            lambda: (s := daemon.json("/v1/status"))["fps"] > 0 and s["events_written"] > 0 and s,
            what="fps and events",
        )
        assert status["state"] == "running" and status["source"]["state"] == "running"
        assert status["model"] and status["build"]["target"] == "rpi"
        assert status["build"]["runtime"] == "litert" and status["uptime_s"] > 0
        assert status["frames"] > 0 and "dropped_frames" in status
        labels = status["build"]["labels"]
        latest = daemon.wait_for(
            lambda: (d := daemon.json("/v1/latest"))["faces"] and d, what="a face in /v1/latest"
        )
        face = latest["faces"][0]
        assert face["label"] in labels and 0 < face["score"] <= 1 and len(face["box"]) == 4
        assert set(face["probabilities"]) == set(labels)

        status, body = daemon.request("/metrics")
        metrics = body.decode()
        assert status == 200 and "emoedge_frames_total" in metrics
        frames = float(
            next(
                line.split()[1]
                for line in metrics.splitlines()
                if line.startswith("emoedge_frames_total ")
            )
        )
        assert frames > 0
        # the real pipeline's stages, per frame, as histograms (seconds)
        assert 'emoedge_stage_duration_seconds_bucket{le="+Inf",stage="' in metrics
        assert "\nprocess_resident_memory_bytes " in metrics

        events = _sse_events(port, TOKEN, 2)
        assert len(events) == 2 and {e["type"] for e in events} <= {"track", "minute", "state"}
        assert any(e["type"] == "track" and e["label"] in labels for e in events)

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/v1/preview.mjpeg", headers={"Authorization": f"Bearer {TOKEN}"})
        resp = conn.getresponse()
        assert resp.status == 200 and "multipart/x-mixed-replace" in resp.getheader("Content-Type")
        assert resp.readline().strip() == b"--emoedgeframe"
        head = dict(resp.readline().decode().strip().split(": ") for _ in range(2))
        resp.readline()
        assert resp.read(int(head["Content-Length"]))[:2] == b"\xff\xd8"
        conn.close()

        # MQTT: a real client got the daemon's per-track events (QoS 1) and its status.
        got = sub.wait_for(lambda m: m[0].startswith("cam/tracks/"))
        assert got and json.loads(got[0][1])["label"] in labels
        assert sub.wait_for(lambda m: m[0] == "cam/status" and b"online" in m[1])

        # Reload without restart: a new token applies at once.
        new_token = "rotated-token-0123456789"
        (tmp_path / "token").write_text(new_token)
        reply = daemon.json("/v1/reload", method="POST")
        assert reply["reloaded"] and "http" in reply["changed"]
        assert daemon.request("/v1/status")[0] == 401
        assert daemon.request("/v1/status", token=new_token)[0] == 200

        messages = _drain(notify_sock)
        assert "READY=1" in "".join(messages) and "WATCHDOG=1" in messages

        # SIGTERM: gone within 5 s, exit 0, everything it recorded flushed.
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(10) == 0, daemon.output()
        assert time.monotonic() - started < 5.0
        logged = daemon.output()
        assert TOKEN not in logged and new_token not in logged  # tokens are never logged
        db = sqlite3.connect(tmp_path / "events.sqlite")
        rows = db.execute("SELECT COUNT(*), SUM(end IS NULL) FROM segments").fetchone()
        assert rows[0] > 0 and rows[1] == 0  # every segment closed on the way out
        assert db.execute("SELECT SUM(frames) FROM minutes").fetchone()[0] > 0
        db.close()
        assert sub.wait_for(lambda m: m[0] == "cam/aggregates/minute")
        assert sub.wait_for(lambda m: m[0] == "cam/status" and b"offline" in m[1])
        assert "STOPPING=1" in "".join(_drain(notify_sock))
    finally:
        daemon.close()
        sub.close()
        broker.stop()
        notify_sock.close()


def test_kill9_keeps_every_acknowledged_event_and_restarts(tmp_path, daemon_build, video):
    port = free_port()
    config = _config(tmp_path, daemon_build, str(video), port)
    daemon = DaemonProcess(config, port)
    try:
        daemon.wait_ready()
        status = daemon.wait_for(
            lambda: (s := daemon.json("/v1/status"))["events_written"] >= 4 and s,
            what="4 events written",
        )
        daemon.proc.kill()  # SIGKILL: no flush, no goodbye
        daemon.proc.wait(10)
    finally:
        daemon.close()
    db = sqlite3.connect(tmp_path / "events.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = {row[0] for row in db.execute("SELECT id FROM segments")}
    assert set(range(1, status["last_event_id"] + 1)) <= ids
    assert len(ids) >= status["events_written"]
    db.close()

    daemon = DaemonProcess(config, port)
    try:
        daemon.wait_ready()
        again = daemon.wait_for(
            lambda: (s := daemon.json("/v1/status"))["events_written"] > 0 and s,
            what="events after restart",
        )
        assert again["last_event_id"] > status["last_event_id"]  # appends, never overwrites
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.proc.wait(10)
        daemon.close()
    db = sqlite3.connect(tmp_path / "events.sqlite")
    sessions = db.execute("SELECT COUNT(DISTINCT session) FROM segments").fetchone()[0]
    interrupted = db.execute("SELECT COUNT(*) FROM segments WHERE interrupted = 1").fetchone()[0]
    db.close()
    assert sessions == 2 and interrupted >= 1  # the killed run's open segment, kept and flagged


def test_source_that_disappears_is_recovered_and_sighup_reloads(tmp_path, daemon_build, photos):
    folder = tmp_path / "frames"
    folder.mkdir()
    for photo in photos:
        shutil.copy(photo, folder / photo.name)
    port = free_port()
    config = _config(tmp_path, daemon_build, str(folder), port, source_extra="loop = true")
    daemon = DaemonProcess(config, port)
    try:
        daemon.wait_ready()
        pid = daemon.proc.pid
        daemon.wait_for(
            lambda: daemon.json("/v1/status")["events_written"] > 0, what="a track's segment"
        )
        folder.rename(tmp_path / "away")
        lost = daemon.wait_for(
            lambda: (s := daemon.json("/v1/status"))["state"] == "reconnecting" and s,
            what="reconnecting",
        )
        assert lost["source"]["error"] and daemon.request("/readyz")[0] == 503
        # the lost source's tracks end at its last frame: none stays open over the
        # outage, to be carried on by a face in the same place afterwards
        db = sqlite3.connect(tmp_path / "events.sqlite")
        segments, still_open = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(end IS NULL), 0) FROM segments"
        ).fetchone()
        db.close()
        assert segments > 0 and still_open == 0
        assert daemon.json("/healthz")["status"] == "ok"  # alive, just waiting
        time.sleep(1.5)  # a few failed retries
        (tmp_path / "away").rename(folder)
        back = daemon.wait_for(
            lambda: (
                (s := daemon.json("/v1/status"))["state"] == "running"
                and s["frames"] > lost["frames"]
                and s
            ),
            what="running again",
        )
        assert back["source"]["reconnects"] >= 1 and daemon.proc.pid == pid
        daemon.wait_ready()

        # SIGHUP reload: aggregates-only privacy, no per-person data from now on.
        config.write_text(config.read_text() + '\n[privacy]\nmode = "aggregates"\n')
        daemon.proc.send_signal(signal.SIGHUP)
        latest = daemon.wait_for(
            lambda: (d := daemon.json("/v1/latest")).get("counts") is not None and d,
            what="aggregates-only /v1/latest",
        )
        assert isinstance(latest["faces"], int) and "track_id" not in json.dumps(latest)
        assert daemon.json("/v1/status")["reloads"] == 1
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.proc.wait(10)
        daemon.close()


def test_an_rtsp_camera_that_restarts_is_reconnected(tmp_path, daemon_build, photos):
    import cv2
    from stream_support import RtspServer

    frames = [cv2.resize(cv2.imread(str(p), cv2.IMREAD_COLOR), (320, 320)) for p in photos]
    camera = RtspServer(frames, fps=15).__enter__()
    port = free_port()
    config = _config(
        tmp_path,
        daemon_build,
        camera.url,
        port,
        source_extra="",
        pipeline_extra="detector_tiles = 2",
    )
    daemon = DaemonProcess(config, port)
    try:
        daemon.wait_ready()
        seen = daemon.wait_for(
            lambda: (s := daemon.json("/v1/status"))["frames"] >= 5 and s, what="frames"
        )
        assert seen["source"]["spec"] == camera.url
        assert seen["build"]["detector"] == "blazeface (2x2 tiles)"
        camera.stop()  # the camera reboots
        lost = daemon.wait_for(
            lambda: (s := daemon.json("/v1/status"))["state"] == "reconnecting" and s,
            what="reconnecting",
        )
        camera = RtspServer(frames, fps=15, port=camera.port).__enter__()
        back = daemon.wait_for(
            lambda: (
                (s := daemon.json("/v1/status"))["state"] == "running"
                and s["frames"] > lost["frames"] + 5
                and s
            ),
            what="running again",
        )
        assert back["source"]["reconnects"] >= 1
        assert daemon.json("/v1/latest")["faces"][0]["label"]
    finally:
        camera.stop()
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.proc.wait(10)
        daemon.close()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from emoedge.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_cli_check_install_and_export(tmp_path, daemon_build, video):
    bad = tmp_path / "bad.toml"
    bad.write_text('[pipeline]\nbuild = "nope"\n[http]\nbind = "0.0.0.0:80"\n')
    result = _cli("daemon", "check", str(bad))
    assert result.returncode == 2
    assert "pipeline.build" in result.stderr and "source.spec is required" in result.stderr
    assert "Traceback" not in result.stderr

    config = _config(tmp_path, daemon_build, str(video), free_port())
    result = _cli("daemon", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source_check"] == "ok"

    unit = tmp_path / "emoedge.service"
    result = _cli(
        "daemon", "install", str(config), "--output", str(unit), "--user", "emoedge",
        "--no-create-user",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    import pwd

    with contextlib.suppress(KeyError):
        pwd.getpwnam("emoedge")
        result = None  # a real emoedge user here: no warning to check
    if result is not None:
        assert "no user 'emoedge' here; create it with: sudo useradd --system" in result.stderr
    text = unit.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=30",
        "Restart=on-failure",
        "User=emoedge",
        "ExecReload=/bin/kill -HUP $MAINPID",
        f"daemon run {config}",
    ):
        assert line in text, line

    from emoedge.daemon.eventlog import EventLog, SegmentOpen

    log = EventLog(tmp_path / "events.sqlite")
    log.commit(opened=[SegmentOpen(1, "happiness", 1000.0), SegmentOpen(2, "sadness", 2000.0)])
    log.close()
    out = tmp_path / "events.json"
    result = _cli(
        "events",
        "export",
        str(tmp_path / "events.sqlite"),
        "--format",
        "json",
        "--since",
        "1500",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert [row["label"] for row in json.loads(out.read_text())] == ["sadness"]
    result = _cli("events", "export", str(tmp_path / "missing.sqlite"))
    assert result.returncode == 2 and "not found" in result.stderr


def test_rtsp_credentials_never_shown_or_logged(tmp_path, daemon_build):
    """/v1/status, the log, systemd's STATUS= and `daemon check` show the URL without its password."""
    notify_sock, notify_path = _notify_socket(tmp_path)
    port = free_port()
    url = f"rtsp://admin:hunter2@127.0.0.1:{free_port()}/stream1"  # nothing listens there
    config = _config(tmp_path, daemon_build, url, port, source_extra="")
    daemon = DaemonProcess(config, port, env={"NOTIFY_SOCKET": notify_path})
    try:
        status = daemon.wait_for(
            lambda: (s := daemon.json("/v1/status"))["source"]["error"] and s,
            what="the source's error",
        )
        body = json.dumps(status)
        assert "hunter2" not in body, body
        assert status["source"]["spec"].startswith("rtsp://admin:***@127.0.0.1:")
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(10) == 0
        output = daemon.output()
        assert "hunter2" not in output and "rtsp://admin:***@" in output, output
        messages = "".join(_drain(notify_sock))
        assert "STATUS=" in messages and "hunter2" not in messages, messages
    finally:
        daemon.close()
        notify_sock.close()
    result = _cli("daemon", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["source"].startswith("rtsp://admin:***@")


def test_cli_check_takes_a_device_node_as_a_camera(tmp_path, daemon_build):
    config = _config(tmp_path, daemon_build, "/dev/video0", free_port(), source_extra="")
    result = _cli("daemon", "check", str(config))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)["source_check"]
    # No camera on a CI machine: the daemon looks for camera 0, not for a file.
    assert found == "ok" or "no camera at index 0" in found, found


def test_a_refused_reload_changes_nothing(tmp_path, daemon_build, photos):
    """A reload whose MQTT TLS file exists but is not a certificate is refused, and
    refused whole: it used to apply the new privacy mode (the loop stopped writing
    track segments) before the MQTT client failed, while saying it kept the old config."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for photo in photos:
        shutil.copy(photo, folder / photo.name)
    port = free_port()
    config = _config(tmp_path, daemon_build, str(folder), port, source_extra="loop = true")
    daemon = DaemonProcess(config, port)
    try:
        daemon.wait_ready()
        (tmp_path / "ca.pem").write_text("not a certificate\n")
        config.write_text(
            config.read_text()
            + '\n[privacy]\nmode = "aggregates"\n'
            + '\n[mqtt]\nenabled = true\nhost = "127.0.0.1"\ntls = true\nca_file = "ca.pem"\n'
        )
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for(lambda: "reload refused" in daemon.output(), what="the refusal")
        before = daemon.json("/v1/status")
        after = daemon.wait_for(
            lambda: (
                (s := daemon.json("/v1/status"))["events_written"] > before["events_written"] and s
            ),
            what="segments still written under the running (per-track) config",
        )
        assert after["reloads"] == 0
        assert "cannot use the TLS files" in " ".join(daemon.output().split())
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.proc.wait(10)
        daemon.close()
