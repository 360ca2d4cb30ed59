"""The systemd side: sd_notify over a real datagram socket, and a unit systemd accepts."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from emoedge.daemon.config import load_config
from emoedge.daemon.systemd import (
    UnitOptions,
    notify,
    render_unit,
    unit_warnings,
    watchdog_interval,
)


def test_notify_sends_datagrams_and_is_a_noop_outside_systemd(tmp_path, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert notify("READY=1\nSTATUS=running") is True
        assert sock.recv(1024) == b"READY=1\nSTATUS=running"


def test_notify_abstract_socket(monkeypatch):
    name = f"emoedge-test-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("WATCHDOG=1")
        assert sock.recv(64) == b"WATCHDOG=1"


def test_watchdog_interval(monkeypatch):
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert watchdog_interval() is None


def _config(tmp_path, log="var/ev.db"):
    build = tmp_path / "build"
    build.mkdir()
    (build / "manifest.json").write_text(json.dumps({"schema": "emoedge.build/1"}))
    (tmp_path / "var").mkdir()
    path = tmp_path / "daemon.toml"
    path.write_text(f'[pipeline]\nbuild = "build"\n[source]\nspec = 0\n[events]\nlog = "{log}"\n')
    return load_config(path, check_files=log.startswith("var/"))


def test_unit_text(tmp_path):
    cfg = _config(tmp_path)
    text = render_unit(cfg, UnitOptions(user="emoedge", watchdog_s=20, exec_start=("/bin/true",)))
    lines = text.splitlines()
    for line in (
        "Type=notify",
        "WatchdogSec=20",
        "Restart=on-failure",
        "StartLimitIntervalSec=0",
        "User=emoedge",
        "SupplementaryGroups=video",
        "ExecStart=/bin/true",
        f"ReadWritePaths={tmp_path / 'var'}",
        "WantedBy=multi-user.target",
    ):
        assert line in lines, line


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_accepts_the_unit(tmp_path):
    cfg = _config(tmp_path)
    unit = tmp_path / "emoedge-test.service"
    unit.write_text(render_unit(cfg))  # the real ExecStart: this venv's emoedge
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Complaints about the host (no running systemd, other units) are not ours; ours name the file.
    ours = [line for line in result.stderr.splitlines() if unit.name in line]
    assert not ours, result.stderr


HARDENED = (
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "ProtectSystem=strict",
    "SupplementaryGroups=video",
    "MemoryMax=1G",
    "PrivateTmp=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
)


def test_the_unit_runs_unprivileged_and_sandboxed_by_default(tmp_path):
    """No --user: not root but a DynamicUser, its event log in its own StateDirectory."""
    cfg = _config(tmp_path, log="/var/lib/emoedge/events.sqlite")
    lines = render_unit(cfg, UnitOptions(exec_start=("/usr/bin/emoedge",))).splitlines()
    for line in (*HARDENED, "DynamicUser=yes", "StateDirectory=emoedge", "ProtectHome=yes"):
        assert line in lines, line
    assert not [line for line in lines if line.startswith(("User=", "ReadWritePaths="))]
    assert not unit_warnings(cfg)


def test_a_named_user_and_a_log_elsewhere_get_read_write_paths(tmp_path):
    cfg = _config(tmp_path)
    options = UnitOptions(user="emoedge", memory_max="512M", exec_start=("/usr/bin/emoedge",))
    lines = render_unit(cfg, options).splitlines()
    for line in (*HARDENED[:-3], "User=emoedge", "Group=emoedge", "MemoryMax=512M"):
        assert line in lines, line
    assert f"ReadWritePaths={tmp_path / 'var'}" in lines and "DynamicUser=yes" not in lines
    home = UnitOptions(exec_start=("/home/pi/.venv/bin/emoedge",))
    assert "ProtectHome=read-only" in render_unit(cfg, home).splitlines()  # the venv stays readable
    assert unit_warnings(cfg) and "DynamicUser" in unit_warnings(cfg)[0]  # it could not write var/
    assert not unit_warnings(cfg, options)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_security_scores_the_unit(tmp_path):
    """`systemd-analyze security` on the unit file: recorded, and kept under 5 ("OK" or better)."""
    cfg = _config(tmp_path, log="/var/lib/emoedge/events.sqlite")
    unit = tmp_path / "emoedge-test.service"
    unit.write_text(render_unit(cfg, UnitOptions(exec_start=("/usr/bin/true",))))
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    if found is None:
        pytest.skip(f"systemd-analyze security --offline is not available: {result.stderr[-300:]}")
    print(f"systemd-analyze security: {found.group(1)}")
    assert float(found.group(1)) < 5.0, result.stdout


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd"),
    reason="creating a user needs root and useradd",
)
def test_install_creates_the_named_user_in_the_video_group(tmp_path):
    """`emoedge daemon install --user NAME` creates the system user the unit runs as."""
    import grp
    import pwd

    name = f"emoedge-t{os.getpid() % 100000}"
    cfg = tmp_path / "daemon.toml"
    build = tmp_path / "build"
    build.mkdir()
    (build / "manifest.json").write_text("{}")
    cfg.write_text('[pipeline]\nbuild = "build"\n[source]\nspec = 0\n')
    unit = tmp_path / "unit.service"
    command = [sys.executable, "-c", "from emoedge.cli import main; main()", "daemon", "install",
               str(cfg), "--output", str(unit), "--user", name]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert f"created the system user {name}" in result.stderr
        entry = pwd.getpwnam(name)
        assert entry.pw_shell == "/usr/sbin/nologin" and entry.pw_uid < 1000  # a system user
        with contextlib.suppress(KeyError):
            assert name in grp.getgrnam("video").gr_mem
        assert f"User={name}" in unit.read_text().splitlines()
        again = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert again.returncode == 0 and "created" not in again.stderr  # named, not re-created
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)
    bad = subprocess.run([*command[:-1], "Bad Name"], capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert bad.returncode == 2 and "--user must be a user name" in bad.stderr
