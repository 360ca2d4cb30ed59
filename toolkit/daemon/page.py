"""The daemon's own web page, and the per-minute history it charts.

Someone who installs a device service opens it in a browser first, so the daemon
serves a small page (`toolkit/daemon/page/`: plain HTML, CSS and JavaScript,
written for this project, nothing fetched from the internet, nothing to build
on the device). Its three files are public: they hold no data, and a browser
has to load the login form before it has a token. Everything the page shows
comes from the API under the same rules as any client (`web.Guard`: Host
allowlist, bearer token, budget).

Routes:
  GET /                   the page (index.html)
  GET /page/<file>        its script and style sheet
  GET /v1/aggregates      per-minute aggregates from the SQLite event log, paged

Why the page sends the token itself instead of using a cookie or the URL: a
token in a URL ends up in browser history, proxy logs and Referer headers; a
cookie would be sent by the browser on cross-site requests too, and then every
endpoint would need CSRF defences. The page keeps the token in sessionStorage
(gone when the tab closes) and sends `Authorization: Bearer` on each request,
as scripts do. The one thing that cannot carry that header is the browser's
`EventSource` (and an `<img>` for MJPEG), so the page reads `/v1/events` and
`/v1/preview.mjpeg` with `fetch()` and parses the stream itself (app.js).
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from emoedge.daemon.eventlog import iter_rows, open_readonly
from emoedge.daemon.http import HttpApi
from emoedge.errors import UserInputError

PAGE_DIR = Path(__file__).with_name("page")
#: Minutes per page of /v1/aggregates: a day in three pages, and the most one answer holds.
MAX_PAGE = 500
#: The page's own files: URL path -> (file in PAGE_DIR, media type). Only these are served.
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/page/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/page/style.css": ("style.css", "text/css; charset=utf-8"),
}
#: The first load's budget in bytes, uncompressed (a Pi on Wi-Fi answers it well under 1 s).
FIRST_LOAD_BUDGET = 150_000
#: What the page may do: its own scripts, styles and API, nothing from elsewhere, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def is_public(path: str) -> bool:
    """True for the page's own files: served without a token (they hold no data)."""
    return (path.rstrip("/") or "/") in PAGE_FILES


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


_assets: dict[str, _Asset] = {}


def _asset(path: str) -> _Asset:
    """The file behind `path`, read once (the daemon runs for months; the files do not change)."""
    found = _assets.get(path)
    if found is None:
        name, media_type = PAGE_FILES[path]
        body = (PAGE_DIR / name).read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        found = _assets[path] = _Asset(body, media_type, etag)
    return found


def first_load_bytes() -> int:
    """Bytes of every file the page loads before its first API call (all of PAGE_FILES)."""
    return sum(len(_asset(path).body) for path in PAGE_FILES)


def _serve(path: str, request: Request) -> Response:
    asset = _asset(path)
    headers = {
        "ETag": asset.etag,
        # Revalidate each time: an upgraded daemon's page shows at once; a 304 is tiny.
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


class MinuteRow(BaseModel):
    """One minute of the event log: what was seen, never who."""

    minute: int = Field(description="Start of the minute, epoch seconds (a multiple of 60)")
    frames: int = Field(description="Frames processed in the minute")
    faces: int = Field(description="Face observations (a face in 10 frames counts 10)")
    tracks: int = Field(description="Distinct face tracks seen")
    counts: dict[str, int] = Field(description="Face observations per emotion label")


class AggregatesPage(BaseModel):
    since: float
    until: float
    limit: int
    minutes: list[MinuteRow]
    next: float | None = Field(
        description="`since` of the next page, or null when this page ends the range"
    )


class _Problem(BaseModel):
    error: str


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": message}, status_code=status, headers={"Cache-Control": "no-store"}
    )


def read_minutes(log_path: str | Path, since: float, until: float, limit: int) -> AggregatesPage:
    """One page of minute rows in [since, until), oldest first; `next` when more remain.

    Reads `limit + 1` rows to know whether another page follows, never more.
    """
    db = open_readonly(log_path)
    try:
        rows = list(iter_rows(db, "minutes", since, until, limit=limit + 1))
    finally:
        db.close()
    more = len(rows) > limit
    rows = rows[:limit]
    return AggregatesPage(
        since=since,
        until=until,
        limit=limit,
        minutes=[MinuteRow(**row) for row in rows],
        next=float(rows[-1]["minute"] + 1) if more else None,
    )


def router(api: HttpApi) -> APIRouter:
    """The page's files and the aggregates endpoint, reading `api` per request."""
    routes = APIRouter()

    def server(path: str):
        def serve(request: Request) -> Response:
            return _serve(path, request)

        return serve

    for path in PAGE_FILES:
        routes.add_api_route(
            path,
            server(path),
            methods=["GET"],
            include_in_schema=path == "/",
            summary="The device's web page" if path == "/" else None,
            response_class=Response,
        )

    @routes.get(
        "/v1/aggregates",
        summary="Per-minute aggregates from the event log, oldest first, paged",
        response_model=AggregatesPage,
        responses={400: {"model": _Problem}, 503: {"model": _Problem}},
    )
    def aggregates(
        since: Annotated[
            float,
            Query(ge=0, allow_inf_nan=False, description="Start, epoch seconds (inclusive)"),
        ],
        until: Annotated[
            float | None,
            Query(
                ge=0, allow_inf_nan=False, description="End, epoch seconds (exclusive); default now"
            ),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_PAGE, description=f"Minutes per page, at most {MAX_PAGE}")
        ] = MAX_PAGE,
    ) -> Response:
        end = time.time() if until is None else until
        if not math.isfinite(end) or end <= since:
            return _problem(400, f"until ({end}) must be after since ({since})")
        if api.event_log is None:
            return _problem(503, "this server has no event log")
        try:
            page = read_minutes(api.event_log, since, end, limit)
        except (UserInputError, sqlite3.Error) as exc:
            return _problem(503, f"the event log cannot be read ({exc})")
        return JSONResponse(page.model_dump(), headers={"Cache-Control": "no-store"})

    return routes


def install(app: FastAPI, api: HttpApi) -> None:
    """Add the page and /v1/aggregates to the daemon's app."""
    app.include_router(router(api))
