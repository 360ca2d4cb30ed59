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

import contextlib
import logging
import os
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from emoedge.errors import UserInputError

if TYPE_CHECKING:  # the CLI reads UnitOptions' defaults at start-up, without pydantic
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
    user: str | None = None  # None: DynamicUser=yes (a fresh unprivileged user per start)
    group: str | None = None
    watchdog_s: int = 30
    restart_s: int = 5
    stop_timeout_s: int = 10
    memory_max: str = (
        "1G"  # the cgroup's hard limit: a leak ends in a restart, not in the OOM killer's choice
    )
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


#: Where systemd's StateDirectory= lives; an event log below it gets one.
STATE_ROOT = Path("/var/lib")
#: Home folders: ProtectHome=yes hides them, so a venv, config or build there
#: needs ProtectHome=read-only instead.
HOME_ROOTS = (Path("/home"), Path("/root"), Path("/run/user"))

#: The sandbox every unit gets. No capabilities at all (the daemon binds ports
#: above 1024, opens cameras through the video group and needs nothing else), no
#: way to gain privileges, the whole file system read-only except the event log's
#: folder, and the kernel's tunables, modules, logs and clock out of reach.
#: Not set, on purpose: PrivateDevices (hides /dev/video*), MemoryDenyWriteExecute
#: (OpenVINO's and XNNPACK's JIT kernels write code), SystemCallFilter (runtimes'
#: needs differ by version; verify on the device before adding it).
HARDENING = (
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "ProtectSystem=strict",
    "PrivateTmp=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "RemoveIPC=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "SystemCallArchitectures=native",
    "UMask=0027",
)


def render_unit(config: DaemonConfig, options: UnitOptions = UnitOptions()) -> str:
    """The text of a systemd service unit for this config."""
    command = options.exec_start or default_exec(config.path)
    log_folder = config.events.log.parent
    read = [Path(command[0]), config.path, config.pipeline.build, log_folder]
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
        lines += [f"User={options.user}", f"Group={options.group or options.user}"]
    else:
        lines.append("DynamicUser=yes")
    lines += [
        "SupplementaryGroups=video",  # /dev/video* and the Pi's camera nodes
        f"MemoryMax={options.memory_max}",
        *HARDENING,
        f"ProtectHome={'read-only' if _in_a_home(read) else 'yes'}",
    ]
    if log_folder.is_relative_to(STATE_ROOT) and log_folder != STATE_ROOT:
        # systemd creates it, owned by the service's user (a DynamicUser's too).
        lines.append(f"StateDirectory={log_folder.relative_to(STATE_ROOT)}")
    else:
        lines.append(f"ReadWritePaths={shlex.quote(str(log_folder))}")
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def _in_a_home(paths: list[Path]) -> bool:
    return any(path.is_relative_to(root) for path in paths for root in HOME_ROOTS)


def unit_warnings(config: DaemonConfig, options: UnitOptions = UnitOptions()) -> list[str]:
    """What will stop the unit from working as written, for `daemon install` to say."""
    log_folder = config.events.log.parent
    if options.user is None and not log_folder.is_relative_to(STATE_ROOT):
        return [
            f"events.log is in {log_folder}: a DynamicUser= service can only write below "
            f'{STATE_ROOT} (set events.log = "{STATE_ROOT / options.name / "events.sqlite"}") '
            "or pass --user NAME with a user that owns that folder"
        ]
    return []


def ensure_user(name: str, *, create: bool = True) -> bool:
    """Make sure the service's user exists; True if it was created here.

    A system user of its own group, no home, no login shell, in the `video` group
    when there is one (the unit's SupplementaryGroups=video gives the daemon that
    group anyway; membership also lets `sudo -u NAME emoedge daemon check` open
    the camera). Creating needs root (`useradd`); without it the error says how.
    """
    import grp
    import pwd
    import subprocess

    try:
        pwd.getpwnam(name)
        return False
    except KeyError:
        pass
    command = ["useradd", "--system", "--user-group", "--no-create-home",
               "--shell", "/usr/sbin/nologin"]  # fmt: skip
    with contextlib.suppress(KeyError):
        grp.getgrnam("video")
        command += ["--groups", "video"]
    command.append(name)
    shown = " ".join(shlex.quote(part) for part in command)
    if not create:
        raise UserInputError(f"no user {name!r} here; create it with: sudo {shown}")
    if os.geteuid() != 0:
        raise UserInputError(
            f"no user {name!r} here, and creating one needs root: run this as root, or "
            f"first: sudo {shown}"
        )
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UserInputError(f"{shown} failed: {result.stderr.strip() or result.returncode}")
    log.info("created the system user %s", name)
    return True


def write_unit(config: DaemonConfig, path: Path, options: UnitOptions = UnitOptions()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_unit(config, options))
    tmp.replace(path)
    return path
