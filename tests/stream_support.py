"""Stream servers on loopback for the source tests: an RTSP camera and an HTTP MJPEG one.

RtspServer: real RTSP, real RTP.

It serves one stream of JPEG frames as RTP/JPEG (RFC 2435) over RTSP's TCP
interleaving, which is what an IP camera's MJPEG profile sends. FFmpeg (inside
OpenCV) is the client, exactly as `emoedge run rtsp://...` uses it; nothing of
emoedge is imitated here. The server asks for TCP (it answers a UDP SETUP with
461 Unsupported Transport, which makes FFmpeg retry over TCP), so no UDP ports
are needed.

Only what a client needs for playback is implemented: OPTIONS, DESCRIBE, SETUP,
PLAY, GET_PARAMETER (keep-alive) and TEARDOWN.

MjpegHttpServer: multipart/x-mixed-replace JPEG over HTTP, what many IP cameras and
our daemon's /v1/preview.mjpeg serve.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import struct
import threading
import time

import cv2
import numpy as np

RTP_PAYLOAD_JPEG = 26
RTP_CLOCK = 90_000
MAX_PAYLOAD = 1400


def _jpeg_parts(jpeg: bytes) -> tuple[int, int, list[bytes], bytes]:
    """(width, height, 8-bit quantization tables in file order, entropy-coded scan)."""
    tables: list[bytes] = []
    width = height = 0
    pos = 2  # after SOI
    while pos < len(jpeg):
        marker, length = jpeg[pos + 1], struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
        body = jpeg[pos + 4 : pos + 2 + length]
        if marker == 0xDB:  # DQT: one or more (precision/id, 64 bytes) tables
            for i in range(0, len(body), 65):
                tables.append(body[i + 1 : i + 65])
        elif marker == 0xC0:  # SOF0: precision, height, width
            height, width = struct.unpack(">HH", body[1:5])
        elif marker == 0xDA:  # SOS: the scan runs to the EOI marker
            scan = jpeg[pos + 2 + length : -2]
            return width, height, tables, scan
        pos += 2 + length
    raise ValueError("not a baseline JPEG")


def rtp_jpeg_packets(jpeg: bytes, seq: int, timestamp: int, ssrc: int) -> list[bytes]:
    """One JPEG frame as RTP packets (RFC 2435, type 1 = 4:2:0, tables in-band)."""
    width, height, tables, scan = _jpeg_parts(jpeg)
    q_header = struct.pack(">BBH", 0, 0, 128) + tables[0] + tables[1]
    packets = []
    offset = 0
    while offset < len(scan):
        first = offset == 0
        room = MAX_PAYLOAD - (len(q_header) if first else 0)
        chunk = scan[offset : offset + room]
        last = offset + len(chunk) >= len(scan)
        rtp = struct.pack(
            ">BBHII",
            0x80,
            RTP_PAYLOAD_JPEG | (0x80 if last else 0),
            (seq + len(packets)) & 0xFFFF,
            timestamp & 0xFFFFFFFF,
            ssrc,
        )
        jpeg_header = struct.pack(">I", offset)  # type-specific 0, 24-bit fragment offset
        jpeg_header += bytes([1, 255, width // 8, height // 8])  # type 1, Q 255: tables follow
        packets.append(rtp + jpeg_header + (q_header if first else b"") + chunk)
        offset += len(chunk)
    return packets


class RtspServer:
    """Serves `frames` (BGR, sides multiples of 16) in a loop at `fps` to each client.
    `url` is what a client opens; `stop()` closes the listener and every client (a
    camera that reboots: start another on the same `port`). `frames_sent` counts
    frames that went out."""

    def __init__(self, frames: list[np.ndarray], fps: float = 15.0, port: int = 0) -> None:
        self._jpegs = []
        for frame in frames:
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok and frame.shape[0] % 16 == 0 and frame.shape[1] % 16 == 0
            self._jpegs.append(data.tobytes())
        self.fps = fps
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(4)
        self.port = self._listener.getsockname()[1]
        self.url = f"rtsp://127.0.0.1:{self.port}/live"
        self.frames_sent = 0
        self._stopping = threading.Event()
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RtspServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        for sock in [self._listener, *self._clients]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        buffer = b""
        streaming: threading.Thread | None = None
        try:
            while not self._stopping.is_set():
                data = client.recv(4096)
                if not data:
                    return
                buffer += data
                while True:
                    # The client's RTCP reports come interleaved: '$', channel, length.
                    while buffer[:1] == b"$" and len(buffer) >= 4:
                        size = 4 + struct.unpack(">H", buffer[2:4])[0]
                        if len(buffer) < size:
                            break
                        buffer = buffer[size:]
                    if buffer[:1] == b"$" or b"\r\n\r\n" not in buffer:
                        break  # wait for the rest
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    method, headers = self._parse(head.decode("latin-1"))
                    if method == "PLAY" and streaming is None:
                        self._reply(client, headers, 200, ["Session: 1"])
                        streaming = threading.Thread(
                            target=self._stream, args=(client,), daemon=True
                        )
                        streaming.start()
                    elif method == "TEARDOWN":
                        self._reply(client, headers, 200, [])
                        return
                    else:
                        self._answer(client, method, headers)
        except OSError:
            return
        finally:
            client.close()

    @staticmethod
    def _parse(head: str) -> tuple[str, dict[str, str]]:
        """The method and headers (names lower-cased) of one request."""
        request_line, *lines = head.split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return request_line.split(" ")[0], headers

    def _answer(self, client: socket.socket, method: str, headers: dict[str, str]) -> None:
        if method == "OPTIONS":
            self._reply(client, headers, 200, ["Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"])
        elif method == "DESCRIBE":
            sdp = (
                "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=emoedge test\r\nc=IN IP4 0.0.0.0\r\n"
                f"t=0 0\r\nm=video 0 RTP/AVP {RTP_PAYLOAD_JPEG}\r\n"
                f"a=rtpmap:{RTP_PAYLOAD_JPEG} JPEG/{RTP_CLOCK}\r\na=control:track1\r\n"
            )
            self._reply(
                client,
                headers,
                200,
                [f"Content-Base: {self.url}/", "Content-Type: application/sdp"],
                sdp,
            )
        elif method == "SETUP":
            if "interleaved" not in headers.get("transport", ""):
                self._reply(client, headers, 461, [])
            else:
                transport = "Transport: RTP/AVP/TCP;unicast;interleaved=0-1"
                self._reply(client, headers, 200, [transport, "Session: 1"])
        else:  # GET_PARAMETER keep-alives and anything else
            self._reply(client, headers, 200, ["Session: 1"])

    @staticmethod
    def _reply(
        client: socket.socket, headers: dict[str, str], status: int, extra: list[str], body=""
    ) -> None:
        reason = {200: "OK", 461: "Unsupported Transport"}[status]
        lines = [f"RTSP/1.0 {status} {reason}", f"CSeq: {headers.get('cseq', '0')}", *extra]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        client.sendall(("\r\n".join(lines) + "\r\n\r\n" + body).encode("latin-1"))

    def _stream(self, client: socket.socket) -> None:
        seq, start = 0, time.monotonic()
        index = 0
        while not self._stopping.is_set():
            jpeg = self._jpegs[index % len(self._jpegs)]
            timestamp = int(index / self.fps * RTP_CLOCK)
            packets = rtp_jpeg_packets(jpeg, seq, timestamp, ssrc=0x0E40ED9E)
            seq += len(packets)
            try:
                for packet in packets:
                    client.sendall(b"$\x00" + struct.pack(">H", len(packet)) + packet)
            except OSError:
                return
            self.frames_sent += 1
            index += 1
            delay = start + index / self.fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)


class MjpegHttpServer:
    """Serves `frames` as an endless multipart JPEG stream at `fps` on `url`."""

    BOUNDARY = "emoedgeframe"

    def __init__(self, frames: list[np.ndarray], fps: float = 15.0) -> None:
        jpegs = [cv2.imencode(".jpg", frame)[1].tobytes() for frame in frames]
        boundary, stopping = self.BOUNDARY, threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={boundary}")
                self.end_headers()
                index = 0
                try:
                    while not stopping.is_set():
                        jpeg = jpegs[index % len(jpegs)]
                        self.wfile.write(
                            f"--{boundary}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                            + jpeg
                            + b"\r\n"
                        )
                        index += 1
                        time.sleep(1.0 / fps)
                except OSError:
                    return

            def log_message(self, *args) -> None:
                pass

        self._stopping = stopping
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stream.mjpeg"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> MjpegHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
