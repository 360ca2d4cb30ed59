"""`emoedge daemon ...` (the long-lived device service) and `emoedge events export`."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path

import typer

from emoedge.cli import app
from emoedge.cli.common import check_output, console, out, user_errors
from emoedge.daemon.systemd import UnitOptions
from emoedge.errors import UserInputError

daemon_app = typer.Typer(
    help="""The long-lived device service: runs the pipeline on a camera or stream for months.

\b
It keeps running through camera faults (reconnecting with backoff), serves HTTP
(status, latest faces, server-sent events, Prometheus metrics, optional MJPEG
preview), publishes emotion changes and minute aggregates over MQTT, and keeps
an SQLite event log. Everything is set in one TOML file:

\b
  emoedge daemon check daemon.toml     validate it (and the build, source, log)
  emoedge daemon run daemon.toml       run in the foreground (SIGTERM stops, SIGHUP reloads)
  emoedge daemon install daemon.toml   write a systemd unit for it
  emoedge daemon schema                the config's JSON schema

See `emoedge daemon check --example` for a commented config.""",
    no_args_is_help=True,
)
events_app = typer.Typer(help="Read the daemon's SQLite event log.", no_args_is_help=True)
app.add_typer(daemon_app, name="daemon")
app.add_typer(events_app, name="events")

_UNIT = UnitOptions()  # the unit's defaults, written once in emoedge.daemon.systemd
CONFIG_ARG = typer.Argument(..., help="The daemon's TOML config file.", show_default=False)


@daemon_app.command("run")
@user_errors
def run(config: Path = CONFIG_ARG) -> None:
    """Run the daemon in the foreground until SIGTERM or Ctrl-C.

    SIGHUP (or POST /v1/reload) re-reads the config without a restart. Stops
    within a few seconds (STOP_BUDGET_S in emoedge/daemon/service.py), flushing the
    event log.
    """
    from emoedge.daemon.config import load_config
    from emoedge.daemon.service import DaemonService

    cfg = load_config(config)
    code = DaemonService(cfg).run()
    raise typer.Exit(code)


@daemon_app.command("check")
@user_errors
def check(
    config: Path = typer.Argument(None, help="The daemon's TOML config file.", show_default=False),
    open_source: bool = typer.Option(
        True, "--source/--no-source", help="Also try to open the source once."
    ),
    example: bool = typer.Option(False, "--example", help="Print a commented example config."),
) -> None:
    """Validate a config: every key, the build's checksums, the event log, the source.

    Exit code 0 when the daemon would start (its pipeline is loaded here, as the
    daemon loads it), 2 with every problem listed when not.
    A source that cannot be opened now is a warning, not an error: the daemon
    waits for it.
    """
    from emoedge.daemon import config as config_module

    if example:
        out.print(config_module.example_config().rstrip(), markup=False, highlight=False)
        return
    if config is None:
        raise UserInputError("give a config file (or --example)")
    from emoedge.daemon.eventlog import EventLog
    from emoedge.daemon.redact import install_log_redaction, redact
    from emoedge.daemon.service import load_pipeline

    install_log_redaction()
    cfg = config_module.load_config(config)
    # the pipeline as the daemon loads it: checksums, the runtime and detector it
    # names installed here, the model against its manifest
    build = load_pipeline(cfg).build
    log = EventLog(cfg.events.log)
    log.close()
    report = {**cfg.summary(), "labels": build.labels, "target": build.target}
    if open_source:
        from rich.markup import escape

        from emoedge.targets.sources import SourceError
        from emoedge.targets.sources import open_source as open_

        try:
            with open_(cfg.source_to_open(), realtime=False, loop=False) as source:
                frame = next(iter(source), None)
            report["source_check"] = "ok" if frame is not None else "opened, but gave no frame"
        except SourceError as exc:
            problem = redact(str(exc))
            report["source_check"] = f"not available now ({problem}); the daemon will retry"
            console.print(f"[yellow]warning:[/yellow] {escape(problem)}", highlight=False)
    out.print_json(json.dumps(report))


@daemon_app.command("schema")
@user_errors
def schema() -> None:
    """Print the config file's JSON schema (every key, its type, range, default and meaning).

    Editors with a TOML language server (Taplo, Even Better TOML) validate and
    complete a config against it.
    """
    from emoedge.daemon.config import json_schema

    out.print_json(json.dumps(json_schema()))


@daemon_app.command("install")
@user_errors
def install(
    config: Path = CONFIG_ARG,
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        help="Where to write the unit [default: /etc/systemd/system/NAME.service].",
    ),
    name: str = typer.Option(_UNIT.name, help="The unit's name."),
    user: str = typer.Option(
        None,
        help="Run as this user, created (a system user in the video group, no home, no "
        "login) when it does not exist [default: DynamicUser=yes, a fresh unprivileged user "
        "per start, with the event log under /var/lib].",
    ),
    create_user: bool = typer.Option(
        True,
        "--create-user/--no-create-user",
        help="Create the --user when it does not exist (needs root).",
    ),
    watchdog: int = typer.Option(
        _UNIT.watchdog_s, help="WatchdogSec: restart when the loop hangs this long."
    ),
    memory_max: str = typer.Option(
        _UNIT.memory_max, help="MemoryMax: restart the daemon above this memory."
    ),
) -> None:
    """Write a hardened systemd unit (Type=notify, watchdog, Restart=on-failure) for this config.

    No root, no capabilities, a read-only file system but for the event log's
    folder (its StateDirectory when under /var/lib). The config is validated
    first. Then: `systemctl daemon-reload && systemctl enable --now NAME`.
    """
    from emoedge.daemon.config import load_config
    from emoedge.daemon.systemd import ensure_user, unit_warnings, write_unit

    cfg = load_config(config)
    if watchdog < 5:
        raise UserInputError(f"--watchdog must be at least 5 seconds, got {watchdog}")
    if not re.fullmatch(r"\d+(\.\d+)?[KMGT]?|\d{1,3}%|infinity", memory_max):
        raise UserInputError(f"--memory-max must be like 512M, 1G or 50%, got {memory_max!r}")
    options = UnitOptions(name=name, user=user, watchdog_s=watchdog, memory_max=memory_max)
    target = output or Path("/etc/systemd/system") / f"{name}.service"
    if user is not None:
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", user):
            raise UserInputError(f"--user must be a user name like emoedge, got {user!r}")
        try:
            if ensure_user(user, create=create_user):
                console.print(f"created the system user {user}", highlight=False)
        except UserInputError as exc:
            if create_user:
                raise
            console.print(f"[yellow]warning:[/yellow] {exc}", highlight=False)  # unit still written
    for warning in unit_warnings(cfg, options):
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    try:
        path = write_unit(cfg, target, options)
    except PermissionError:
        raise UserInputError(
            f"{target}: permission denied (run as root, or use --output)"
        ) from None
    console.print(f"wrote {path}", highlight=False)
    console.print(
        f"next: sudo systemctl daemon-reload && sudo systemctl enable --now {name}", highlight=False
    )
    out.print(str(path), highlight=False)


def _when(value: str | None, option: str) -> float | None:
    """Epoch seconds from an ISO date/time (local time if no zone) or a number."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise UserInputError(
            f"{option}: {value!r} is neither an ISO date/time nor epoch seconds"
        ) from None


@events_app.command("export")
@user_errors
def export(
    log: Path = typer.Argument(
        ..., help="The event log (SQLite) the daemon writes.", show_default=False
    ),
    table: str = typer.Option(
        "segments",
        help="segments (per-track emotion stretches) or minutes (per-minute aggregates).",
    ),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv or json."),
    output: Path = typer.Option(None, "--output", "-o", help="File to write [default: stdout]."),
    since: str = typer.Option(None, help="From this time (ISO 8601 or epoch seconds)."),
    until: str = typer.Option(None, help="Before this time (ISO 8601 or epoch seconds)."),
) -> None:
    """Export the event log to CSV or JSON; safe while the daemon is writing it."""
    from emoedge.daemon.eventlog import export_events

    if output is not None:
        check_output(output, "--output", folder=False)
    rows = export_events(
        log,
        output,
        table=table,
        fmt=fmt,
        since=_when(since, "--since"),
        until=_when(until, "--until"),
        stream=sys.stdout,
    )
    console.print(f"{rows} {table} row(s)" + (f" -> {output}" if output else ""), highlight=False)
