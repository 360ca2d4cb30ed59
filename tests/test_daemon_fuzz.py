"""Property-based fuzz of the daemon's HTTP API from its own OpenAPI schema.

schemathesis reads /openapi.json from the real server on loopback and hypothesis
generates requests for every operation, valid and invalid ones (wrong methods,
query values, bodies, headers the schema does not expect). The property: no 5xx
and no hang, on a bounded budget (`EXAMPLES` per operation, each call limited to
`CALL_TIMEOUT_S`). The two streams (SSE, MJPEG) are left out: their bodies never
end, and their caps, disconnects and encoding are tested in test_daemon_http.py.
"""

from __future__ import annotations

import time

import pytest

schemathesis = pytest.importorskip(
    "schemathesis", reason="the fuzz needs schemathesis (the dev extra)"
)
from hypothesis import HealthCheck, given, settings  # noqa: E402  (schemathesis brings it)
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from test_daemon_http import _state  # noqa: E402  (the same hand-filled state)

from emoedge.daemon.eventlog import EventLog, MinuteAggregate  # noqa: E402
from emoedge.daemon.http import HttpApi  # noqa: E402
from emoedge.daemon.web import WebServer  # noqa: E402

EXAMPLES = 30  # per operation and mode: about a minute on a busy 2-core machine
CALL_TIMEOUT_S = 5.0
STREAMS = ("/v1/events", "/v1/preview.mjpeg")


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    log = EventLog(tmp_path_factory.mktemp("fuzz") / "events.sqlite")
    now = int(time.time()) // 60 * 60
    log.commit(
        minutes=[MinuteAggregate(now - 60 * i, 10, 3, 1, {"happiness": 3}) for i in range(5)]
    )
    log.close()
    api = HttpApi(_state(), reload=lambda: {"reloaded": True}, preview=True)
    api.event_log = str(log.path)  # what endpoints reading the event log need (if any)
    server = WebServer(api, "127.0.0.1", 0).start()
    yield server
    server.stop()


def _call(case, port: int) -> str | None:
    """One generated request; what is wrong with its answer, or None."""
    started = time.monotonic()
    # A script's POST says JSON (without it the cross-origin guard answers 415 and the
    # handler behind it would never be reached); generated headers still come on top.
    headers = {"Content-Type": "application/json"} if case.method == "POST" else {}
    headers.update(case.headers or {})
    response = case.call(
        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=CALL_TIMEOUT_S
    )
    code = response.status_code
    if code >= 500 and not (code == 503 and case.path == "/readyz"):  # 503: not ready yet
        return f"{case.method} {case.formatted_path} -> {code}"
    if time.monotonic() - started >= CALL_TIMEOUT_S:
        return f"{case.method} {case.formatted_path} took {time.monotonic() - started:.1f} s"
    return None


def test_no_server_error_and_no_hang(fuzzed_server):
    port = fuzzed_server.port
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
    problems: list[str] = []
    operations = [
        op for op in (result.ok() for result in schema.get_all_operations())
        if op.path not in STREAMS  # endless bodies: their caps and ends are in test_daemon_http
    ]  # fmt: skip
    assert {op.path for op in operations} >= {"/v1/status", "/v1/reload", "/metrics"}
    tried = 0
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            seen: list[str] = []  # run() below is called within this iteration

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,  # the same cases on every run: a failure reproduces
                database=None,
            )
            @given(case=operation.as_strategy(mode))
            def run(case) -> None:
                problem = _call(case, port)
                seen.append(case.method)  # noqa: B023
                if problem is not None:
                    problems.append(problem)

            try:
                run()
            except Unsatisfiable:  # no invalid request exists for a parameterless GET
                continue
            tried += len(seen)
    assert tried >= len(operations), tried
    assert problems == [], problems[:10]


_TOKEN_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)  # visible ASCII
_HEADER_TEXT = st.text(_TOKEN_CHARS | st.just(" "), max_size=40).map(str.strip)


@st.composite
def _raw_requests(draw) -> bytes:
    """A request head the schema knows nothing about: odd Hosts, lengths, origins, types."""
    method = draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]))
    path = draw(st.sampled_from(["/healthz", "/readyz", "/v1/status", "/v1/latest", "/metrics",
                                 "/v1/reload", "/openapi.json", "/v1/aggregates"])
                | st.text(_TOKEN_CHARS, max_size=30).map(lambda p: "/" + p))  # fmt: skip
    headers = {
        "Host": draw(
            st.sampled_from(["127.0.0.1", "localhost:1", "[::1]:80", "evil.example"]) | _HEADER_TEXT
        ),
        "Content-Length": draw(
            st.none() | st.sampled_from(["-1", "0", "2", "99999999"]) | _HEADER_TEXT
        ),
        "Content-Type": draw(
            st.none() | st.sampled_from(["application/json", "text/plain"]) | _HEADER_TEXT
        ),
        "Origin": draw(st.none() | st.sampled_from(["http://127.0.0.1", "null"]) | _HEADER_TEXT),
        "Transfer-Encoding": draw(st.none() | st.just("chunked")),
    }
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in headers.items() if v is not None]
    body = draw(st.binary(max_size=8))
    return ("\r\n".join(lines) + "\r\nConnection: close\r\n\r\n").encode() + body


def test_odd_request_heads_get_a_4xx_or_less_never_a_5xx_or_a_hang(fuzzed_server):
    """Hypothesis writes raw request heads past the schema (the Guard's inputs)."""
    import socket

    problems: list[str] = []

    @settings(max_examples=100, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(request=_raw_requests())
    def run(request: bytes) -> None:
        with socket.create_connection(("127.0.0.1", fuzzed_server.port), timeout=5) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)  # all there is: a short body must not be waited for
            started = time.monotonic()
            reply = b""
            try:
                while b"\r\n" not in reply and time.monotonic() - started < CALL_TIMEOUT_S:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            except TimeoutError:
                problems.append(f"no answer in 5 s to {request[:120]!r}")
                return
        if not reply:
            return  # closed without an answer (h11 drops what it cannot parse)
        status = reply.split(b"\r\n", 1)[0].split(b" ")
        if len(status) < 2 or not status[1].isdigit():
            problems.append(f"not HTTP: {reply[:60]!r}")
        elif int(status[1]) >= 500 and int(status[1]) != 503:
            problems.append(f"{status[1].decode()} for {request[:160]!r}")

    run()
    assert problems == [], problems[:5]
