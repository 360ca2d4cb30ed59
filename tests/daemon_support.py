"""Helpers shared by the daemon tests: a real Mosquitto broker and a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    """A free port below the kernel's ephemeral range. A port the kernel hands out
    (bind to 0) is free again once the probe closes, and the next outgoing
    connection (the daemon's own MQTT client) could take it before the daemon
    binds it: "Address already in use", seen on a loaded machine."""
    import random

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(500):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").is_file() else None
    )
    if not found:
        pytest.skip("mosquitto is not installed (run .ci/services.sh install)")
    return found


def make_tls_files(folder: Path) -> dict[str, Path]:
    """A CA, a broker certificate for 127.0.0.1 and a client certificate, made by openssl."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        name: folder / f"{name}.pem"
        for name in ("ca", "ca_key", "server", "server_key", "client", "client_key")
    }

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=emoedge test CA",
        "-keyout",
        str(files["ca_key"]),
        "-out",
        str(files["ca"]),
    )
    for name, subject, ext in (
        ("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
        ("client", "/CN=emoedge-client", "extendedKeyUsage=clientAuth"),
    ):
        request = folder / f"{name}.csr"
        extfile = folder / f"{name}.ext"
        extfile.write_text(ext + "\n")
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            str(files[f"{name}_key"]),
            "-out",
            str(request),
        )
        run(
            "x509",
            "-req",
            "-in",
            str(request),
            "-CA",
            str(files["ca"]),
            "-CAkey",
            str(files["ca_key"]),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(extfile),
            "-out",
            str(files[name]),
        )
    return files


class Broker:
    """A throwaway Mosquitto on 127.0.0.1:port, stoppable and restartable on the same port.

    With `tls` (from `make_tls_files`) it speaks only TLS and asks for a client
    certificate; with `users` it refuses anonymous clients and checks passwords.
    """

    def __init__(
        self,
        folder: Path,
        port: int | None = None,
        *,
        tls: dict[str, Path] | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.binary = mosquitto_binary()
        self.folder = folder
        self.port = port or free_port()
        self.conf = folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "user root"]
        if tls:
            lines += [
                f"cafile {tls['ca']}",
                f"certfile {tls['server']}",
                f"keyfile {tls['server_key']}",
                "require_certificate true",
            ]
        if users:
            passwd = folder / "mosquitto.passwd"
            passwd.write_text("")
            for user, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(passwd), user, password],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Broker:
        log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115 - lives as long as the broker
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"mosquitto exited: {(self.folder / 'mosquitto.log').read_text()}"
                    ) from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Subscriber:
    """A real paho client collecting (topic, payload) pairs with QoS 1."""

    def __init__(
        self,
        port: int,
        topic: str,
        *,
        tls: dict[str, Path] | None = None,
        user: tuple[str, str] | None = None,
    ) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{port}-{os.getpid()}-{id(self)}"
        )  # unique: a broker drops the older of two clients with one id
        if tls:
            self.client.tls_set(str(tls["ca"]), str(tls["client"]), str(tls["client_key"]))
        if user:
            self.client.username_pw_set(*user)
        subscribed = []
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.append(rcs)
        self.client.on_message = lambda c, u, msg: self.messages.append((msg.topic, msg.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        deadline = time.time() + 10
        while not subscribed and time.time() < deadline:
            time.sleep(0.02)
        assert subscribed, "subscription not acknowledged"
        self._subscribed = subscribed

    def wait_for(self, predicate, timeout: float = 10.0) -> list[tuple[str, bytes]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [m for m in list(self.messages) if predicate(m)]
            if found:
                return found
            time.sleep(0.05)
        return []

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class DaemonProcess:
    """`emoedge daemon run CONFIG` as a real subprocess, with helpers to talk to it."""

    def __init__(
        self, config: Path, port: int, token: str | None = None, env: dict[str, str] | None = None
    ) -> None:
        import os
        import sys

        self.config, self.port, self.token = config, port, token
        self.log_path = config.with_suffix(f".{port}.log")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from emoedge.cli import main; main()",
                "daemon",
                "run",
                str(config),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def request(
        self, path: str, method: str = "GET", token: str | None = "default", timeout: float = 5.0
    ) -> tuple[int, bytes]:
        import http.client

        token = self.token if token == "default" else token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if method == "POST":
                headers["Content-Type"] = "application/json"  # as a script (not a web page) sends
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def json(self, path: str, **kwargs):
        import json

        status, body = self.request(path, **kwargs)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "condition"):
        """Poll until predicate() is truthy (connection errors count as not yet)."""
        deadline = time.time() + timeout
        last_error = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"daemon exited ({self.proc.returncode}) waiting for {what}:\n{self.output()}"
                )
            try:
                value = predicate()
                if value:
                    return value
            except (OSError, AssertionError) as exc:
                last_error = exc
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what} ({last_error}):\n{self.output()}")

    def wait_ready(self, timeout: float = 90.0) -> None:
        self.wait_for(lambda: self.request("/readyz")[0] == 200, timeout, "/readyz")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def make_video(path: Path, images: list[Path], frames_each: int = 6, fps: float = 10.0) -> Path:
    """A short MJPG video of the given photos (350x350), each held for `frames_each` frames."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (350, 350))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for image_path in images:
        image = cv2.resize(cv2.imread(str(image_path)), (350, 350))
        for _ in range(frames_each):
            writer.write(image)
    writer.release()
    return path
