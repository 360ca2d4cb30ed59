"""The daemon's web page in a real browser: first-load bytes, load time, screenshots.

Starts `emoedge daemon run` on a looping clip (played at its own frame rate, as a
camera would deliver it) with a token and an event log that already holds 24 h
of minute aggregates (what a day of running leaves; generated, seeded, so every
run draws the same history), opens the page in Debian's Chromium through
Playwright, signs in, waits until the boxes, the chart and the event list show
data, and saves full-page screenshots at desktop and phone widths (light and
dark colour schemes) plus the sign-in form. It records the bytes of every file
the first load fetched before its first API call (target: <= 150 KB uncompressed)
and the browser's own load timings on loopback (a Pi on Wi-Fi adds its latency).

    python benchmarks/daemon_page.py [--build BUILD] --out benchmarks/results/daemon_page

Without --build it exports an rpi (TFLite int8, LiteRT) build of zoo:mini_xception
calibrated on the repo's small FER+ fixture into a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import math
import os
import platform
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import daemon_bench  # same folder: run as a script

TOKEN = "page-benchmark-0123456789"
log = logging.getLogger("daemon_page")


def seed_day(path: Path, labels: list[str]) -> int:
    """24 h of minute rows: people come and go over the day, the mix drifts; gaps when no one ran."""
    import numpy as np

    from emoedge.daemon.eventlog import EventLog, MinuteAggregate

    rng = np.random.default_rng(23)
    now = int(time.time() // 60) * 60
    weights = np.array([6.0, 4.0, 1.0, 1.5, 0.7, 0.2, 0.3, 0.3])[: len(labels)]
    rows = []
    for i in range(1, 24 * 60):
        if 300 <= i % 480 < 330:  # half an hour off every 8 h (a restart, a lens cleaned)
            continue
        frames = 600
        busy = 0.5 + 0.5 * math.sin(i / 180)  # a slow daily rhythm
        faces = int(frames * busy * 1.6 * rng.uniform(0.8, 1.2))
        mix = rng.dirichlet(weights * (1 + busy))
        counts = {label: int(faces * share) for label, share in zip(labels, mix, strict=True)}
        rows.append(MinuteAggregate(now - i * 60, frames, faces, max(1, int(busy * 4)), counts))
    events = EventLog(path)
    events.commit(minutes=rows)
    events.close()
    return len(rows)


def screenshots(port: int, out: Path) -> dict:
    """Open the page as a person would and photograph it; returns what was measured."""
    from playwright.sync_api import sync_playwright

    url = f"http://127.0.0.1:{port}/"
    measured: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
        measured["browser"] = f"Chromium {browser.version}"
        views = [
            ("desktop", {"width": 1280, "height": 900}, "light", False),
            ("desktop-dark", {"width": 1280, "height": 900}, "dark", False),
            ("phone", {"width": 390, "height": 844}, "light", True),
        ]
        for name, viewport, scheme, mobile in views:
            context = browser.new_context(
                viewport=viewport, color_scheme=scheme, is_mobile=mobile, device_scale_factor=1
            )
            page = context.new_page()
            first: list[tuple[str, int]] = []
            api_started = []

            def on_response(response, first=first, api_started=api_started) -> None:
                path = response.url.split(str(port), 1)[1]
                if path.startswith("/v1/"):
                    api_started.append(path)
                elif not api_started and response.status == 200:
                    first.append((path, len(response.body())))

            page.on("response", on_response)
            page.goto(url)
            page.wait_for_selector("#login:not([hidden])")
            if name == "phone":
                page.screenshot(path=str(out / "phone-sign-in.png"))
            page.fill("#token", TOKEN)
            page.keyboard.press("Enter")
            page.wait_for_function(
                "() => Number(document.getElementById('frame').dataset.faces) > 0", timeout=60_000
            )
            page.wait_for_function(
                "() => Number(document.getElementById('chart').dataset.minutes) > 0"
            )
            page.wait_for_function(
                "() => document.querySelectorAll('#event-list li[data-kind=track]').length >= 4",
                timeout=60_000,
            )
            if name == "desktop":
                page.click(".range button[data-hours='24']")
                page.wait_for_function(
                    "() => Number(document.getElementById('chart').dataset.minutes) > 1000"
                )
                timing = page.evaluate(
                    "() => { const t = performance.getEntriesByType('navigation')[0];"
                    " return {dom: t.domContentLoadedEventEnd, load: t.loadEventEnd}; }"
                )
                measured["timing_ms"] = timing
                measured["first_load"] = first
            page.wait_for_timeout(1500)  # a few more frames and events
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            measured.setdefault("overflow", {})[name] = page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            context.close()
        browser.close()
    return measured


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, help="build folder (default: export an rpi build)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs and README.md")
    args = parser.parse_args()
    from emoedge.daemon.page import FIRST_LOAD_BUDGET
    from emoedge.targets.manifest import Build

    work = Path(tempfile.mkdtemp(prefix="daemon-page-"))
    build = args.build
    if build is None:
        log.info("exporting an rpi build ...")
        build = daemon_bench.fixture_build("rpi", work / "build")
    labels = Build.load(build, verify=False).labels
    seeded = seed_day(work / "events.sqlite", labels)
    video = daemon_bench.make_video(work / "clip.avi")
    (work / "token").write_text(TOKEN)
    port = daemon_bench.free_port()
    config = daemon_bench.write_config(
        work / "daemon.toml",
        build,
        video,
        port,
        realtime=True,
        http='token_file = "token"',
        events="min_frames = 2\n",
    )
    load_before = os.getloadavg()[0]
    daemon_log = open(work / "daemon.log", "wb")  # noqa: SIM115 - lives as long as the daemon
    daemon = daemon_bench.start_daemon(config, daemon_log)
    try:
        daemon_bench.wait_ready(port, daemon, work / "daemon.log", token=TOKEN)
        args.out.mkdir(parents=True, exist_ok=True)
        measured = screenshots(port, args.out)
        load_during = os.getloadavg()[0]
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(15)
        daemon_log.close()

    first = measured["first_load"]
    total = sum(size for _, size in first)
    rows = "\n".join(f"| `{path}` | {size:,} |" for path, size in first)
    command = (
        "python benchmarks/daemon_page.py"
        + (f" --build {shlex.quote(str(args.build))}" if args.build else "")
        + f" --out {args.out}"
    )
    verdict = "PASS" if total <= FIRST_LOAD_BUDGET else "FAIL"
    overflow = ", ".join(f"{k} {v} px" for k, v in measured["overflow"].items())
    text = f"""# The daemon's web page (benchmarks/daemon_page.py, {datetime.date.today()})

Command: `{command}`

Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()},
{measured["browser"]} (Debian's, driven by Playwright); load average {load_before:.2f} before,
{load_during:.2f} during (other processes shared these cores).
Daemon: `emoedge daemon run` on a looping 350x350 clip at its own 30 fps, an rpi build
(TFLite int8 on LiteRT), a token, and an event log seeded with {seeded} minutes of the last
24 h (generated: `seed_day`, seed 23) so the chart has a day to show.

## First load (uncompressed, every file fetched before the first API call)

| file | bytes |
|---|---:|
{rows}
| **total** (budget {FIRST_LOAD_BUDGET:,}) | **{total:,}** |

Result: **{verdict}**. Browser timings on loopback: DOMContentLoaded {measured["timing_ms"]["dom"]:.0f} ms,
load {measured["timing_ms"]["load"]:.0f} ms (a Pi on the local network adds its round trips: three
requests for the files, then the API).
Horizontal overflow (page wider than the screen): {overflow}.

## Screenshots

- `desktop.png`: 1280 px wide, light scheme, range 24 h
- `desktop-dark.png`: 1280 px, dark scheme (prefers-color-scheme), range 1 h
- `phone.png`: 390 px (a phone), light scheme, range 1 h
- `phone-sign-in.png`: the sign-in form the page shows when the daemon has a token
"""
    (args.out / "README.md").write_text(text)
    print(text)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
