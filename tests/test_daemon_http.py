"""The HTTP layer on real sockets: access rules, JSON bodies, SSE, metrics, MJPEG.

The state is filled by hand here; the end-to-end test (test_daemon_service.py)
runs the same server inside the real daemon on a real model.
"""

from __future__ import annotations

import contextlib
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

from emoedge.daemon.http import ApiSettings, HttpApi, RequestBudget
from emoedge.daemon.http_process import HTTP_NICE, HttpProcess
from emoedge.daemon.limits import Limits
from emoedge.daemon.state import BuildInfo, ServiceState
from emoedge.daemon.web import WebServer
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
    srv = WebServer(api, params.get("host", "127.0.0.1"), 0, **params.get("server", {})).start()
    yield srv
    srv.stop()


def _get(port, path, token=None, method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if method == "POST":
        headers.setdefault("Content-Type", "application/json")  # what a script sends
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
        WebServer(HttpApi(ServiceState()), "0.0.0.0", 0)


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
    assert resp.readline() == b"retry: 2000\n"
    deadline = time.time() + 5
    while server.api.state.hub.listeners == 0 and time.time() < deadline:
        time.sleep(0.01)
    server.api.state.hub.publish("track", {"type": "track", "kind": "start", "track_id": 9})
    block = ""
    while "event:" not in block:  # skip comment blocks (": connected", keepalives)
        lines = []
        while not lines or lines[-1] != b"\n":
            lines.append(resp.readline())
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
    assert resp.readline().strip() == b"--emoedgeframe"
    headers = {}
    while line := resp.readline().strip():
        key, value = line.decode().split(": ")
        headers[key] = value
    jpeg = resp.read(int(headers["Content-Length"]))
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
            lines.append(resp.readline())
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
        assert resp.readline() == b"retry: 2000\n"
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
        proc.configure(ApiSettings(token=TOKEN))
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


def test_sse_client_disconnect_logs_one_debug_line_and_no_traceback(server, caplog, capfd):
    """A viewer closing its tab is routine: one debug line, nothing on stderr (the journal)."""
    import logging
    import socket

    caplog.set_level(logging.DEBUG, logger="emoedge")
    hub = server.api.state.hub
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    deadline = time.time() + 5
    while hub.listeners == 0:
        assert time.time() < deadline
        time.sleep(0.01)
    # Abortive close (RST), as a browser killed mid-stream does; then the server writes.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()
    deadline = time.time() + 5
    while hub.listeners:
        assert time.time() < deadline, "the stream did not notice its client left"
        hub.publish("track", {"type": "track", "pad": "x" * 4096})
        time.sleep(0.05)
    time.sleep(0.3)  # anything printed after the stream ended
    left = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(left) == 1 and left[0].levelno == logging.DEBUG, caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


# -- the holes a probe on loopback found (issue 20), each closed -----------------------
def _raw(port: int, data: bytes, timeout: float = 5.0, source: str = "127.0.0.1") -> bytes:
    """Send raw bytes, return what comes back until the server closes or `timeout`."""
    import socket

    with socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
    ) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_negative_content_length_is_refused_at_once(server):
    started = time.monotonic()
    reply = _raw(
        server.port,
        b"POST /v1/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
        timeout=10,
    )
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert time.monotonic() - started < 2.0


def test_a_body_over_the_limit_is_refused(server):
    head = b"POST /v1/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    reply = _raw(server.port, head + b"Content-Length: 100000\r\n\r\n", timeout=5)
    assert reply.startswith(b"HTTP/1.1 413"), reply


@pytest.mark.parametrize(
    "server",
    [{"server": {"limits": Limits(max_connections=16, request_timeout_s=1.0)}}],
    indirect=True,
)
def test_half_open_connections_are_capped_and_timed_out(server):
    """300 requests that never finish their head: no thread each, at most the cap held, all
    closed after request_timeout_s, and the server answers again."""
    import socket

    threads = threading.active_count()
    socks = []
    for _ in range(300):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line
        socks.append(sock)
    held = server._server.server_state.connections
    deadline = time.time() + 5  # the loop aborts the extra ones as it gets to them
    while len(held) > 16:
        assert time.time() < deadline, f"{len(held)} connections held"
        time.sleep(0.05)
    assert threading.active_count() <= threads + 1  # an event loop, not a thread each
    time.sleep(1.5)  # past request_timeout_s
    for sock in socks:
        sock.settimeout(2)
        with contextlib.suppress(ConnectionResetError):  # closed by the server
            assert sock.recv(1024) == b""
        sock.close()
    assert _get(server.port, "/healthz")[0] == 200


@pytest.mark.parametrize("server", [{"server": {"limits": Limits(max_streams=2)}}], indirect=True)
def test_streams_are_capped(server):
    def open_stream() -> tuple[http.client.HTTPResponse, bytes]:
        """(response, body of a refusal); a stream's body is left unread. The response
        is returned, not dropped: it owns the socket (the server sends `connection:
        close`), and a response garbage-collected closes it, ending the stream, so
        the cap was only met while the server had not yet noticed (flaky under load)."""
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        conn.request("GET", "/v1/events")
        resp = conn.getresponse()
        return resp, resp.read() if resp.status != 200 else b""

    streams = [open_stream() for _ in range(2)]
    assert [resp.status for resp, _ in streams] == [200, 200]
    time.sleep(0.5)  # longer than a stream takes to see its client leave (STREAM_POLL_S)
    refused, body = open_stream()
    refused.close()
    assert refused.status == 503 and b"at most 2 streams" in body
    for resp, _ in streams:
        resp.close()
    deadline = time.time() + 10
    while (found := open_stream())[0].status != 200:
        found[0].close()
        assert time.time() < deadline, "closed streams never gave their slots back"
        time.sleep(0.1)
    found[0].close()


@pytest.mark.parametrize("server", [{"api": {"preview": True}}], indirect=True)
def test_mjpeg_is_encoded_once_per_frame_for_all_viewers(server):
    viewers = []
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/v1/preview.mjpeg")
        resp = conn.getresponse()
        assert resp.status == 200
        viewers.append((conn, resp))
    fed = 0
    for i in range(10, 22):
        result = FrameResult(i, i / 10, [], {})
        server.api.state.record_frame(
            result.to_dict(), {}, 0, image=np.zeros((60, 60, 3), np.uint8), frame_result=result
        )
        fed += 1
        time.sleep(0.1)
    for conn, resp in viewers:
        assert resp.readline().strip() == b"--emoedgeframe"
        conn.close()
    encoder = server.app.app.state.encoder
    assert 1 <= encoder.encoded <= fed + 1, (encoder.encoded, fed)  # not 3 x fed


def test_dns_rebinding_host_is_refused(server):
    assert _get(server.port, "/v1/latest", headers={"Host": "evil.example.com"})[0] == 421
    assert _get(server.port, "/v1/latest", headers={"Host": "evil.example.com:8080"})[0] == 421
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "[::1]"):
        assert _get(server.port, "/v1/latest", headers={"Host": host})[0] == 200, host
    server.api.allowed_hosts = ("cam.example.com",)
    assert _get(server.port, "/v1/latest", headers={"Host": "cam.example.com:80"})[0] == 200


def test_a_browser_cannot_post_cross_origin(server):
    calls = []
    server.api.reload = lambda: calls.append(1) or {"reloaded": True}
    # A form or fetch with a "simple" content type needs no preflight: refused.
    assert (
        _get(server.port, "/v1/reload", method="POST", headers={"Content-Type": "text/plain"})[0]
        == 415
    )
    evil = {"Origin": "http://evil.example.com"}
    assert _get(server.port, "/v1/reload", method="POST", headers=evil)[0] == 403
    assert not calls
    mine = {"Origin": f"http://127.0.0.1:{server.port}"}
    assert _get(server.port, "/v1/reload", method="POST", headers=mine)[0] == 200
    assert calls == [1]


@pytest.mark.parametrize(
    "server",
    [{"api": {"token": TOKEN, "max_requests_per_s": 10.0, "max_client_requests_per_s": 2.0}}],
    indirect=True,
)
def test_authentication_comes_before_the_budget_and_each_client_has_its_own(server):
    port = server.port

    def get(source: str, token: str | None) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
        conn.request(
            "GET", "/v1/latest", headers={"Authorization": f"Bearer {token}"} if token else {}
        )
        status = conn.getresponse().status
        conn.close()
        return status

    # Strangers: 401 at once, however many, and they spend nothing.
    assert {get("127.0.0.2", None) for _ in range(60)} == {401}
    started = time.monotonic()
    # (60 requests through a shared 10/s budget would have put this one 5 s out)
    assert get("127.0.0.3", TOKEN) == 200 and time.monotonic() - started < 1.0
    # A greedy client, 50 requests at once, runs into its own share (429s) ...
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(50) as pool:
        greedy = [pool.submit(get, "127.0.0.4", TOKEN) for _ in range(50)]
        time.sleep(0.5)
        # ... while another client is still served at once.
        started = time.monotonic()
        assert get("127.0.0.5", TOKEN) == 200 and time.monotonic() - started < 1.0
    assert 429 in [f.result() for f in greedy]


def test_openapi_describes_every_endpoint(server):
    status, ctype, body = _get(server.port, "/openapi.json")
    paths = json.loads(body)["paths"]
    assert status == 200 and ctype == "application/json"
    for path in ("/healthz", "/readyz", "/v1/status", "/v1/latest", "/v1/events", "/metrics",
                 "/v1/preview.mjpeg", "/v1/reload"):  # fmt: skip
        assert path in paths, path
    assert _get(server.port, "/docs")[0] == 200


def test_https_with_the_configured_certificate(tmp_path):
    import ssl

    from daemon_support import make_tls_files

    tls = make_tls_files(tmp_path)
    api = HttpApi(_state(), token=TOKEN)
    srv = WebServer(
        api, "127.0.0.1", 0, tls_cert=str(tls["server"]), tls_key=str(tls["server_key"])
    ).start()
    try:
        context = ssl.create_default_context(cafile=str(tls["ca"]))
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=5, context=context)
        conn.request("GET", "/v1/status", headers={"Authorization": f"Bearer {TOKEN}"})
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["model"] == "mini_xception"
        conn.close()
        with pytest.raises(ssl.SSLError):  # a client that does not know our CA is refused
            plain = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=5)
            plain.request("GET", "/healthz")
    finally:
        srv.stop()
    with pytest.raises(UserInputError, match="HTTP TLS"):
        WebServer(api, "127.0.0.1", 0, tls_cert=str(tls["ca_key"]), tls_key=str(tls["ca_key"]))


def test_metrics_pass_promtool_and_carry_histograms_and_process_metrics(server):
    """The exposition is prometheus_client's, linted by Prometheus' own `promtool`."""
    import shutil

    status, ctype, body = _get(server.port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    text = body.decode()
    # 3 frames at detect = 2 ms: all in the 2.5 ms bucket, none in the 1 ms one
    assert 'emoedge_stage_duration_seconds_bucket{le="0.001",stage="detect"} 0.0' in text
    assert 'emoedge_stage_duration_seconds_bucket{le="0.0025",stage="detect"} 3.0' in text
    assert 'emoedge_stage_duration_seconds_count{stage="detect"} 3.0' in text
    assert "emoedge_dropped_frames_total 1.0" in text
    assert "emoedge_source_reconnects_total 0.0" in text
    assert 'emoedge_build_info{detector="blazeface"' in text
    for family in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                   "emoedge_http_process_cpu_seconds_total"):  # fmt: skip
        assert f"\n{family} " in text, family
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package 'prometheus'; .ci/services.sh)")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert (result.stdout + result.stderr).strip() == b"", (result.stdout + result.stderr).decode()
