"""The HTTP layer on real sockets: access rules, JSON bodies, SSE, metrics, MJPEG.

The state is filled by hand here; the end-to-end test (test_daemon_service.py)
runs the same server inside the real daemon on a real model.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from emoedge.daemon.http import DaemonHTTPServer, HttpApi, RequestBudget
from emoedge.daemon.http_process import HTTP_NICE, HttpProcess
from emoedge.daemon.state import BuildInfo, ServiceState
from emoedge.errors import UserInputError
from emoedge.targets.pipeline import FaceResult, FrameResult

TOKEN = "s3cret-token-0123456789"


def _state() -> ServiceState:
    state = ServiceState(labels=["neutral", "happiness"])
    state.build = BuildInfo(
        path="/b",
        model="mini_xception",
        target="x86",
        format="openvino",
        precision="int8",
        runtime="openvino",
        detector="blazeface",
        labels=["neutral", "happiness"],
    )
    state.source_spec = "clip.mp4"
    state.set_state("running")
    face = {
        "track_id": 4,
        "box": [10, 10, 40, 40],
        "label": "happiness",
        "score": 0.8,
        "probabilities": [0.2, 0.8],
    }
    for i in range(3):
        state.record_frame(
            {"frame_index": i, "timestamp": i / 10, "faces": [face]},
            {"detect": 2.0, "classify": 1.0},
            dropped=1,
            image=np.full((80, 80), 128, np.uint8),
        )
    return state


@pytest.fixture()
def server(request):
    params = getattr(request, "param", {})
    state = _state()
    api = HttpApi(state, reload=lambda: {"reloaded": True}, **params.get("api", {}))
    srv = DaemonHTTPServer(api, params.get("host", "127.0.0.1"), 0).start()
    yield srv
    srv.stop()


def _get(port, path, token=None, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request(method, path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, resp.getheader("Content-Type"), body


def test_endpoints_on_loopback_without_token(server):
    port = server.port
    status, _, body = _get(port, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, _, body = _get(port, "/readyz")
    assert status == 200 and json.loads(body)["ready"] is True
    status, ctype, body = _get(port, "/v1/status")
    data = json.loads(body)
    assert ctype == "application/json" and data["model"] == "mini_xception"
    assert (
        data["frames"] == 3 and data["dropped_frames"] == 1 and data["source"]["state"] == "running"
    )
    assert data["build"]["target"] == "x86" and data["uptime_s"] >= 0
    status, _, body = _get(port, "/v1/latest")
    assert json.loads(body)["faces"][0]["label"] == "happiness"
    status, ctype, body = _get(port, "/metrics")
    text = body.decode()
    assert ctype.startswith("text/plain; version=0.0.4")
    assert "emoedge_frames_total 3" in text
    assert 'emoedge_emotion_observations_total{label="happiness"} 3' in text
    assert 'emoedge_source_state{state="running"} 1' in text
    # every sample line is NAME{labels} VALUE
    for line in text.splitlines():
        if not line.startswith("#"):
            assert re.fullmatch(r"[a-z_]+(\{[^}]*\})? [-+0-9.eInfNa]+", line), line
    assert _get(port, "/nope")[0] == 404
    assert _get(port, "/v1/reload", method="POST")[2] == b'{"reloaded":true}'
    assert _get(port, "/v1/reload")[0] == 405
    assert _get(port, "/v1/preview.mjpeg")[0] == 404  # off by default


@pytest.mark.parametrize("server", [{"host": "0.0.0.0", "api": {"token": TOKEN}}], indirect=True)
def test_token_required_beyond_loopback(server):
    port = server.port
    for path in ("/healthz", "/v1/status", "/v1/latest", "/metrics", "/v1/events"):
        assert _get(port, path)[0] == 401, path
        assert _get(port, path, token="wrong-token-0123456789")[0] == 401, path
    assert _get(port, "/v1/reload", method="POST")[0] == 401
    assert _get(port, "/v1/status", token=TOKEN)[0] == 200


def test_refuses_to_bind_beyond_loopback_without_token():
    with pytest.raises(UserInputError, match="without a token"):
        DaemonHTTPServer(HttpApi(ServiceState()), "0.0.0.0", 0)


@pytest.mark.parametrize("server", [{"api": {"aggregates_only": True}}], indirect=True)
def test_aggregates_mode_hides_tracks(server):
    data = json.loads(_get(server.port, "/v1/latest")[2])
    assert data["faces"] == 1 and data["counts"] == {"happiness": 1}
    assert "track_id" not in json.dumps(data)


def test_server_sent_events(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/v1/events")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
    assert resp.fp.readline() == b"retry: 2000\n"
    deadline = time.time() + 5
    while server.api.state.hub.listeners == 0 and time.time() < deadline:
        time.sleep(0.01)
    server.api.state.hub.publish("track", {"type": "track", "kind": "start", "track_id": 9})
    block = ""
    while "event:" not in block:  # skip comment blocks (": connected", keepalives)
        lines = []
        while not lines or lines[-1] != b"\n":
            lines.append(resp.fp.readline())
        block = b"".join(lines).decode()
    assert "event: track" in block and '"track_id":9' in block
    conn.close()


@pytest.mark.parametrize("server", [{"api": {"preview": True}}], indirect=True)
def test_mjpeg_preview_when_enabled(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/v1/preview.mjpeg")
    resp = conn.getresponse()
    assert resp.status == 200 and "multipart/x-mixed-replace" in resp.getheader("Content-Type")

    def feed():
        for i in range(3, 40):
            if server.api.closing.is_set():
                return
            face = FaceResult(
                1, (5, 5, 30, 30), "happiness", 0.9, {"neutral": 0.1, "happiness": 0.9}, 0.99
            )
            result = FrameResult(i, i / 10, [face], {})
            server.api.state.record_frame(
                result.to_dict(), {}, 0, image=np.zeros((60, 60, 3), np.uint8), frame_result=result
            )
            time.sleep(0.05)

    threading.Thread(target=feed, daemon=True).start()
    assert resp.fp.readline().strip() == b"--emoedgeframe"
    headers = {}
    while line := resp.fp.readline().strip():
        key, value = line.decode().split(": ")
        headers[key] = value
    jpeg = resp.fp.read(int(headers["Content-Length"]))
    assert headers["Content-Type"] == "image/jpeg" and jpeg[:2] == b"\xff\xd8"
    conn.close()


def test_budget_spaces_requests_and_refuses_what_would_wait_too_long():
    budget = RequestBudget()
    waits = [budget.reserve(10.0, max_wait=0.5) for _ in range(8)]
    # A quiet API answers BURST_S seconds' worth at once, then one per 0.1 s.
    assert waits[0] == 0.0 and waits[1] == 0.0
    assert waits[-1] is not None and 0.4 < waits[-1] <= 0.5  # 8th: 0.7 - 0.25
    assert budget.reserve(10.0, max_wait=0.5) is None  # next slot is more than 0.5 s off
    assert RequestBudget().reserve(0.0) == 0.0  # 0 = no limit


@pytest.mark.parametrize("server", [{"api": {"max_requests_per_s": 10.0}}], indirect=True)
def test_requests_over_the_budget_wait_their_turn(server):
    started = time.monotonic()
    codes = [_get(server.port, "/v1/latest")[0] for _ in range(10)]
    elapsed = time.monotonic() - started
    assert codes == [200] * 10
    # 10 requests at 10/s with a 0.25 s burst: the last waits at least ~0.65 s.
    assert elapsed >= 0.6, elapsed
    assert json.loads(_get(server.port, "/v1/status")[2])["max_requests_per_s"] == 10.0


def _read_event(resp) -> str:
    block = ""
    while "event:" not in block:
        lines = []
        while not lines or lines[-1] != b"\n":
            lines.append(resp.fp.readline())
        block = b"".join(lines).decode()
    return block


def test_http_process_mirrors_the_state_forwards_events_and_reloads():
    """The daemon's way to serve: a child at lower priority, fed over a socket pair."""
    state = _state()
    calls = []

    def reload():
        calls.append(1)
        if len(calls) > 1:
            raise UserInputError("source.spec is required")
        return {"reloaded": True, "changed": ["http"]}

    proc = HttpProcess(state, "127.0.0.1", 0, reload=reload).start()
    try:
        assert proc.pid != os.getpid()
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) >= HTTP_NICE
        data = json.loads(_get(proc.port, "/v1/status")[2])
        assert data["model"] == "mini_xception" and data["frames"] == 3
        # A new frame reaches the child within a few publish periods.
        state.record_frame({"frame_index": 7, "timestamp": 0.7, "faces": []}, {}, dropped=2)
        deadline = time.time() + 5
        while json.loads(_get(proc.port, "/v1/latest")[2])["frame_index"] != 7:
            assert time.time() < deadline, "the child never saw frame 7"
            time.sleep(0.02)
        assert json.loads(_get(proc.port, "/v1/status")[2])["dropped_frames"] == 2
        # Events published in the daemon arrive on the child's SSE stream.
        conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=5)
        conn.request("GET", "/v1/events")
        resp = conn.getresponse()
        assert resp.fp.readline() == b"retry: 2000\n"
        deadline = time.time() + 5
        while json.loads(_get(proc.port, "/v1/status")[2])["sse_clients"] == 0:
            assert time.time() < deadline
            time.sleep(0.02)
        state.hub.publish("track", {"type": "track", "kind": "start", "track_id": 11})
        assert '"track_id":11' in _read_event(resp)
        conn.close()
        # POST /v1/reload runs the daemon's reload and returns its answer or its error.
        status, _, body = _get(proc.port, "/v1/reload", method="POST")
        assert status == 200 and json.loads(body)["changed"] == ["http"]
        status, _, body = _get(proc.port, "/v1/reload", method="POST")
        assert status == 422 and "source.spec is required" in json.loads(body)["error"]
        # Reloaded settings apply in the child: now a token is needed.
        proc.configure(token=TOKEN, aggregates_only=False, preview=False, max_requests_per_s=0)
        deadline = time.time() + 5
        while _get(proc.port, "/v1/status")[0] != 401:
            assert time.time() < deadline
            time.sleep(0.02)
        assert _get(proc.port, "/v1/status", token=TOKEN)[0] == 200
        # A child that dies is started again on the same port.
        old_pid, port = proc.pid, proc.port
        os.kill(old_pid, signal.SIGKILL)
        deadline = time.time() + 5
        while proc.alive():
            assert time.time() < deadline
            time.sleep(0.02)
        assert proc.restart_if_dead()
        assert proc.pid != old_pid and proc.port == port
        assert _get(port, "/healthz", token=TOKEN)[0] == 200
    finally:
        proc.stop()
    assert not proc.alive()


def test_http_process_ends_when_the_daemon_is_gone(tmp_path):
    """kill -9 of the daemon must not leave its HTTP server behind."""
    script = tmp_path / "daemon.py"
    script.write_text(
        "import sys, time\n"
        "from emoedge.daemon.http_process import HttpProcess\n"
        "from emoedge.daemon.state import ServiceState\n"
        "proc = HttpProcess(ServiceState(), '127.0.0.1', 0).start()\n"
        "print(proc.pid, proc.port, flush=True)\n"
        "time.sleep(60)\n"
    )
    daemon = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child_pid, port = map(int, daemon.stdout.readline().split())
        assert _get(port, "/healthz")[0] == 200
    finally:
        daemon.kill()
        daemon.wait()
    deadline = time.time() + 5
    while True:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        assert time.time() < deadline, "the HTTP process outlived its daemon"
        time.sleep(0.05)
