"""The daemon's web page and /v1/aggregates.

The first tests talk HTTP to a `WebServer` on a real SQLite event log; the browser
tests drive Debian's Chromium (Playwright, the system browser: nothing is
downloaded) against `emoedge daemon run` on a looping clip, as a person would.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import shutil
import time
from pathlib import Path

import pytest
from daemon_support import DaemonProcess, free_port
from test_daemon_service import _config  # the end-to-end tests' daemon.toml

from emoedge.daemon.eventlog import EventLog, MinuteAggregate
from emoedge.daemon.http import HttpApi
from emoedge.daemon.page import FIRST_LOAD_BUDGET, MAX_PAGE, PAGE_FILES
from emoedge.daemon.state import ServiceState
from emoedge.daemon.web import WebServer

TOKEN = "page-token-0123456789abcdef"
LABELS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
CHROMIUM = "/usr/bin/chromium"


def seed_minutes(
    path: Path, minutes: int, *, end: float | None = None, every: int = 1
) -> list[int]:
    """Write `minutes` minute rows ending before `end` (now), as an earlier run would have."""
    last = int((end or time.time()) // 60) * 60 - 60
    rows = []
    for i in range(0, minutes, every):
        faces = 100 + i % 7 * 10
        counts = {"happiness": faces // 2, "neutral": faces - faces // 2 - i % 3, "sadness": i % 3}
        rows.append(MinuteAggregate(last - i * 60, 300, faces, 1 + i % 4, counts))
    log = EventLog(path)
    log.commit(minutes=rows)
    log.close()
    return sorted(row.minute for row in rows)


def _get(port: int, path: str, token: str | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, resp.headers, body


@pytest.fixture()
def server(tmp_path):
    log = tmp_path / "events.sqlite"
    minutes = seed_minutes(log, 1200)
    api = HttpApi(ServiceState(labels=LABELS), token=TOKEN, event_log=str(log))
    srv = WebServer(api, "127.0.0.1", 0).start()
    srv.minutes = minutes
    yield srv
    srv.stop()


# -- /v1/aggregates -------------------------------------------------------------------
def test_aggregates_are_paged_in_order_and_never_more_than_a_page(server):
    port, minutes = server.port, server.minutes
    since, until = minutes[0], minutes[-1] + 60
    seen, next_since, pages = [], since, 0
    while next_since is not None:
        status, _, body = _get(
            port, f"/v1/aggregates?since={next_since}&until={until}&limit=70", TOKEN
        )
        assert status == 200, body
        page = json.loads(body)
        assert len(page["minutes"]) <= 70 and page["limit"] == 70
        seen += [row["minute"] for row in page["minutes"]]
        next_since, pages = page["next"], pages + 1
        assert pages < 100
    assert seen == minutes  # every minute once, oldest first, across 18 pages
    assert pages == math.ceil(len(minutes) / 70)
    row = page["minutes"][-1]
    assert set(row) == {"minute", "frames", "faces", "tracks", "counts"}
    assert row["frames"] == 300 and sum(row["counts"].values()) <= row["faces"]
    # The default page is the largest there is; until defaults to now.
    page = json.loads(_get(port, f"/v1/aggregates?since={since}", TOKEN)[2])
    assert len(page["minutes"]) == MAX_PAGE and page["next"] == minutes[MAX_PAGE - 1] + 1
    # [since, until): the minute at `until` belongs to the next range.
    page = json.loads(_get(port, f"/v1/aggregates?since={minutes[3]}&until={minutes[5]}", TOKEN)[2])
    assert [r["minute"] for r in page["minutes"]] == minutes[3:5] and page["next"] is None


@pytest.mark.parametrize(
    "query",
    [
        "",  # no since
        "since=abc",
        "since=-60",
        "since=nan",
        "since=inf",
        "since=100&until=100",  # empty range
        "since=200&until=100",  # backwards
        "since=100&until=nan",
        "since=100&limit=0",
        f"since=100&limit={MAX_PAGE + 1}",
        "since=100&limit=-1",
    ],
)
def test_aggregates_refuse_bad_ranges_with_4xx(server, query):
    status, headers, body = _get(server.port, f"/v1/aggregates?{query}", TOKEN)
    assert 400 <= status < 500, (query, status, body)
    assert headers["Content-Type"].startswith("application/json")


def test_aggregates_need_the_token_and_are_in_the_openapi_schema(server):
    assert _get(server.port, "/v1/aggregates?since=0")[0] == 401
    assert _get(server.port, "/v1/aggregates?since=0", "wrong-token-0123456789")[0] == 401
    schema = json.loads(_get(server.port, "/openapi.json", TOKEN)[2])
    operation = schema["paths"]["/v1/aggregates"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"since", "until", "limit"} and params["since"]["required"]
    assert params["limit"]["schema"]["maximum"] == MAX_PAGE
    assert "AggregatesPage" in json.dumps(operation["responses"]["200"])


def test_aggregates_without_an_event_log_say_so(tmp_path):
    srv = WebServer(HttpApi(ServiceState()), "127.0.0.1", 0).start()
    try:
        status, _, body = _get(srv.port, "/v1/aggregates?since=0")
        assert status == 503 and "no event log" in json.loads(body)["error"]
    finally:
        srv.stop()


# -- the page's files -----------------------------------------------------------------
def test_the_page_is_public_the_data_is_not_and_the_host_rule_holds(server):
    port = server.port
    status, headers, body = _get(port, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and headers["X-Content-Type-Options"] == "nosniff"
    assert b"<canvas" in body and b"http://" not in body and b"https://" not in body
    for path in ("/page/app.js", "/page/style.css"):
        assert _get(port, path)[0] == 200, path
    for path in ("/v1/status", "/v1/latest", "/v1/events", "/page/nope.js", "/page/../page.py"):
        assert _get(port, path)[0] in (401, 404), path
    assert _get(port, "/v1/status")[0] == 401
    # A DNS-rebinding page cannot load it either.
    assert _get(port, "/", headers={"Host": "evil.example.com"})[0] == 421
    # Revalidation: an unchanged file is a 304 with no body.
    etag = headers["ETag"]
    status, _, body = _get(port, "/", headers={"If-None-Match": etag})
    assert status == 304 and body == b""


def test_first_load_is_within_its_byte_budget(server):
    """Every file the first load fetches, as served (uncompressed): index.html and what it links."""
    _, _, html = _get(server.port, "/")
    linked = re.findall(rb'(?:src|href)="(/[^"]*)"', html)
    assert sorted(p.decode() for p in linked) == sorted(set(PAGE_FILES) - {"/"})
    assert not re.search(rb'(?:src|href)="(?:https?:)?//', html)  # nothing from elsewhere
    total = len(html) + sum(len(_get(server.port, p.decode())[2]) for p in linked)
    print(f"first load: {total} bytes in {1 + len(linked)} files (budget {FIRST_LOAD_BUDGET})")
    assert total <= FIRST_LOAD_BUDGET


def _contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_colours_keep_the_contrast_the_style_sheet_promises():
    from emoedge.daemon.page import PAGE_DIR

    css = (PAGE_DIR / "style.css").read_text()
    light = dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6});", css.split("@media")[0]))
    dark_block = css[css.index("prefers-color-scheme: dark") :].split("}\n}")[0]
    dark_only = dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6});", dark_block))
    dark = {**light, **dark_only}
    assert len(light) >= 15 and len(dark_only) >= 15 and set(dark_only) <= set(light)
    for scheme in (light, dark):
        for background in ("card", "bg"):
            assert _contrast(scheme["fg"], scheme[background]) >= 12, (scheme, background)
            assert _contrast(scheme["muted"], scheme[background]) >= 7, (scheme, background)
        for colour in ("accent", "ok", "warn", "bad"):
            assert _contrast(scheme[colour], scheme["card"]) >= 4.5, (colour, scheme)
        assert _contrast(scheme["accent-fg"], scheme["accent"]) >= 4.5  # pressed buttons
        assert _contrast(scheme["frame-fg"], scheme["frame-bg"]) >= 7


# -- in a real browser, against the real daemon ---------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (run .ci/services.sh install)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM)
        yield chromium
        chromium.close()


def test_health_says_in_words_what_went_wrong_and_keeps_the_last_error(browser):
    """A hand-driven state: the source fails, then recovers; the page says both."""
    state = ServiceState(labels=LABELS)
    state.set_state("running")
    srv = WebServer(HttpApi(state), "127.0.0.1", 0).start()
    context = browser.new_context()
    page = context.new_page()
    words = "() => document.getElementById('health-words').textContent"
    try:
        page.goto(f"http://127.0.0.1:{srv.port}/")
        page.wait_for_function(f"{words}.includes('No source errors since the daemon started')")
        state.set_state("reconnecting", "cannot open rtsp://cam/stream (timed out).", retry_in_s=4)
        page.wait_for_function(
            f"{words}.includes('No frames: cannot open rtsp://cam/stream (timed out). Next try in 4 s')"
        )
        assert page.text_content("#reconnects") == "1"
        assert page.text_content("#state") == "reconnecting"
        state.set_state("running")
        page.wait_for_function(f"{words}.includes('Frames are flowing')")
        assert re.search(
            r"Last error, \d+ s ago: cannot open rtsp://cam/stream \(timed out\)\.$",
            page.text_content("#health-words"),
        )
        status = json.loads(_get(srv.port, "/v1/status")[2])["source"]
        assert status["error"] is None and status["last_error"].startswith("cannot open")
    finally:
        context.close()
        srv.stop()


def _start_daemon(tmp_path: Path, build: Path, clip: Path, **kwargs) -> DaemonProcess:
    port = free_port()
    token = kwargs.pop("token", None)
    http_extra = kwargs.pop("http_extra", "")
    config = _config(tmp_path, build, str(clip), port, **kwargs)
    if token:
        (tmp_path / "token").write_text(token)
        http_extra += '\ntoken_file = "token"'
    text = config.read_text().replace("[http]\n", f"[http]\n{http_extra.strip()}\n")
    config.write_text(text)
    daemon = DaemonProcess(config, port, token=token)
    daemon.wait_ready()
    return daemon


def _watch(page) -> dict:
    """Requests the page made, and any script error (a failing test shows them)."""
    seen: dict = {"urls": [], "errors": []}
    page.on("request", lambda r: seen["urls"].append(r.url))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    return seen


def _count(page, selector: str) -> int:
    return page.locator(selector).count()


def _drawn_pixels(page, canvas: str, colour: str) -> int:
    """Pixels of the canvas within a few levels of `colour` (#rrggbb)."""
    return page.evaluate(
        """([id, hex]) => {
            const c = document.getElementById(id);
            const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
            let n = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (want.every((v, k) => Math.abs(data[i + k] - v) < 8)) n++;
            }
            return n;
        }""",
        [canvas, colour],
    )


def test_page_with_a_token_boxes_chart_events_and_no_preview(
    tmp_path, browser, daemon_build, video
):
    seed_minutes(tmp_path / "events.sqlite", 5 * 60, every=2)  # an earlier run: 150 minutes in 5 h
    daemon = _start_daemon(tmp_path, daemon_build, video, token=TOKEN)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = _watch(page)
    try:
        page.goto(f"http://127.0.0.1:{daemon.port}/")
        page.wait_for_selector("#login:not([hidden])")
        assert page.is_hidden("#app")

        # A wrong token is refused, and nothing is shown.
        page.fill("#token", "wrong-token-0123456789abc")
        page.keyboard.press("Enter")  # the form works from the keyboard
        page.wait_for_function(
            "() => document.getElementById('login-error').textContent.includes('refused')"
        )
        assert page.is_hidden("#app")
        assert page.evaluate("sessionStorage.length") == 0

        page.fill("#token", TOKEN)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#app:not([hidden])")
        page.wait_for_function("() => document.getElementById('state').textContent === 'running'")
        page.wait_for_function("() => parseFloat(document.getElementById('fps').textContent) > 0")
        status = daemon.json("/v1/status")
        assert page.text_content("#model") == status["model"]
        assert status["build"]["target"] in page.text_content("#build")

        # Now: the faces of the latest frame as labelled boxes on the canvas.
        page.wait_for_function(
            "() => Number(document.getElementById('frame').dataset.faces) > 0", timeout=30_000
        )
        assert page.get_attribute("#frame", "data-mode") == "boxes"
        face = page.text_content("#faces li")
        label = re.search(r"#\d+ (\w+) \d+%", face).group(1)
        assert label in status["build"]["labels"]
        colour = page.evaluate(f"COLOURS[{json.dumps(label)}]")
        assert _drawn_pixels(page, "frame", colour) > 50  # the box and its label strip

        # The last hours: the seeded minutes drawn, then a wider range from the keyboard.
        page.wait_for_function("() => Number(document.getElementById('chart').dataset.minutes) > 0")
        in_hour = int(page.get_attribute("#chart", "data-minutes"))
        assert 25 <= in_hour <= 33  # every other minute of the last hour, and the live ones
        assert "minutes logged" in page.text_content("#chart-summary")
        assert _drawn_pixels(page, "chart", page.evaluate("COLOURS.happiness")) > 100
        page.focus(".range button[data-hours='6']")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => Number(document.getElementById('chart').dataset.minutes) >= 140"
        )
        assert page.get_attribute(".range button[data-hours='6']", "aria-pressed") == "true"
        assert page.get_attribute(".range button[data-hours='1']", "aria-pressed") == "false"

        # Events: the list grows live; paused, it holds still and counts what waits.
        tracks = "#event-list li[data-kind=track]"
        page.wait_for_function(
            f"() => document.querySelectorAll('{tracks}').length >= 2", timeout=30_000
        )
        page.click("#pause")
        held = _count(page, tracks)
        page.wait_for_function(
            "() => /Paused · [1-9]/.test(document.getElementById('events-note').textContent)",
            timeout=30_000,
        )
        assert _count(page, tracks) == held
        page.click("#pause")
        assert _count(page, tracks) > held
        grown = _count(page, tracks)
        page.wait_for_function(
            f"() => document.querySelectorAll('{tracks}').length > {grown}", timeout=30_000
        )

        # Health in words, with the counters.
        assert "Frames are flowing" in page.text_content("#health-words")
        assert page.text_content("#reconnects") == "0"

        # The preview stays off: never asked for, no control for it.
        assert page.is_hidden("#preview-toggle")
        assert not [u for u in seen["urls"] if "preview" in u]
        # The token went in headers only: never in an address, kept for this tab only.
        assert not [u for u in seen["urls"] if TOKEN in u]
        assert page.evaluate("sessionStorage.getItem('emoedge.token')") == TOKEN
        assert page.evaluate("localStorage.length") == 0
        assert not seen["errors"], seen["errors"]

        # On a phone: one column, nothing wider than the screen.
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        small = phone.new_page()
        small.goto(f"http://127.0.0.1:{daemon.port}/")
        small.fill("#token", TOKEN)
        small.keyboard.press("Enter")
        small.wait_for_function(
            "() => Number(document.getElementById('frame').dataset.faces) > 0", timeout=30_000
        )
        assert small.evaluate("document.documentElement.scrollWidth") <= 390
        phone.close()
    finally:
        context.close()
        daemon.close()


def test_page_shows_the_preview_when_it_is_on(tmp_path, browser, daemon_build, video):
    daemon = _start_daemon(tmp_path, daemon_build, video, http_extra="preview = true")
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    seen = _watch(page)
    try:
        page.goto(f"http://127.0.0.1:{daemon.port}/")  # loopback, no token: no login
        page.wait_for_selector("#app:not([hidden])")
        assert page.is_hidden("#login")
        page.wait_for_function(
            "() => document.getElementById('frame').dataset.mode === 'preview'", timeout=30_000
        )
        assert [u for u in seen["urls"] if u.endswith("/v1/preview.mjpeg")]
        page.wait_for_function(
            "() => document.getElementById('frame-caption').textContent.includes('annotated preview')"
        )
        # Turned off from the page: back to boxes drawn from /v1/latest.
        page.click("#preview-toggle")
        page.wait_for_function("() => document.getElementById('frame').dataset.mode === 'boxes'")
        assert page.get_attribute("#preview-toggle", "aria-pressed") == "false"
        assert not seen["errors"], seen["errors"]
    finally:
        context.close()
        daemon.close()


def test_page_in_aggregates_only_mode_shows_counts_and_says_so(
    tmp_path, browser, daemon_build, video
):
    daemon = _start_daemon(tmp_path, daemon_build, video, extra='[privacy]\nmode = "aggregates"\n')
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    seen = _watch(page)
    try:
        page.goto(f"http://127.0.0.1:{daemon.port}/")
        page.wait_for_selector("#privacy:not([hidden])")
        assert "aggregates only" in page.text_content("#privacy")
        page.wait_for_function(
            "() => document.getElementById('frame-caption').textContent.includes('counts only')",
            timeout=30_000,
        )
        assert page.is_hidden("#frame")  # no boxes: counts only
        assert re.fullmatch(r"\w+: \d+", page.text_content("#faces li") or "")
        # the note states the mode as soon as the status is known, before the stream answers
        assert "off in aggregates-only mode" in page.text_content("#events-note")
        page.wait_for_function(
            "() => document.getElementById('events-note').textContent.includes('totals arrive here')"
        )
        assert _count(page, "#event-list li[data-kind=track]") == 0
        assert not seen["errors"], seen["errors"]
    finally:
        context.close()
        daemon.close()
