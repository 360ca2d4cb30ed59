"""systemd integration: the unit file `emoedge daemon install` writes, and sd_notify.

The unit is `Type=notify`: systemd considers the daemon started only when it
says READY=1 (pipeline loaded, HTTP listening), and `WatchdogSec` restarts it
if the service loop stops sending WATCHDOG=1 (a hung runtime or driver).
`Restart=on-failure` with no start limit covers crashes; a clean stop
(SIGTERM, exit 0) stays stopped.

sd_notify is a datagram to the unix socket named by $NOTIFY_SOCKET; a dozen
lines here instead of a dependency. Outside systemd (no $NOTIFY_SOCKET) every
call is a no-op.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from emoedge.daemon.config import DaemonConfig

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send one sd_notify message ("READY=1", "WATCHDOG=1", "STATUS=..."); False if no systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError as exc:
        log.debug("sd_notify %r failed: %s", message, exc)
        return False


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None when not watched."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        return max(int(usec) / 1e6 / 2.0, 0.1)
    except ValueError:
        return None


@dataclass(frozen=True)
class UnitOptions:
    name: str = "emoedge"
    user: str | None = None  # None: root (systemd's default); a device should use its own user
    group: str | None = None
    watchdog_s: int = 30
    restart_s: int = 5
    stop_timeout_s: int = 10
    exec_start: tuple[str, ...] | None = None  # None: this interpreter's emoedge


def default_exec(config_path: Path) -> tuple[str, ...]:
    """The command that runs this very install: the `emoedge` script beside this interpreter
    (a venv's bin/), else the interpreter itself calling the CLI's entry point."""
    script = Path(sys.executable).parent / "emoedge"
    if script.is_file():
        return (str(script), "daemon", "run", str(config_path))
    return (
        sys.executable,
        "-c",
        "from emoedge.cli import main; main()",
        "daemon",
        "run",
        str(config_path),
    )


def render_unit(config: DaemonConfig, options: UnitOptions = UnitOptions()) -> str:
    """The text of a systemd service unit for this config."""
    command = options.exec_start or default_exec(config.path)
    writable = sorted({str(config.events.log.parent)})
    lines = [
        "# Written by `emoedge daemon install`; re-run it after changing the config's paths.",
        "[Unit]",
        f"Description=emoedge facial emotion daemon ({config.path})",
        "After=network-online.target",
        "Wants=network-online.target",
        "StartLimitIntervalSec=0",  # a device keeps trying, forever
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={' '.join(shlex.quote(part) for part in command)}",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        f"RestartSec={options.restart_s}",
        f"WatchdogSec={options.watchdog_s}",
        f"TimeoutStopSec={options.stop_timeout_s}",
        "KillSignal=SIGTERM",
        f"WorkingDirectory={config.path.parent}",
        "Environment=PYTHONUNBUFFERED=1",
    ]
    if options.user:
        lines.append(f"User={options.user}")
        lines.append(f"Group={options.group or options.user}")
        lines.append("SupplementaryGroups=video")  # cameras
    lines += [
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=full",
        f"ReadWritePaths={' '.join(writable)}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def write_unit(config: DaemonConfig, path: Path, options: UnitOptions = UnitOptions()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_unit(config, options))
    tmp.replace(path)
    return path
