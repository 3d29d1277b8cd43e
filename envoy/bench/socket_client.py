"""A small blocking HTTP/1.1 client on raw sockets, for the benchmark's checks and uploads.

One request per connection (`Connection: close`), to 127.0.0.1 only, every socket with a
timeout. `upload` streams a file with `sendfile`, several times in one request if asked, so
a 1 GB upload never exists in memory or on disk.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
RECV_BYTES = 65536
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lowercased
    body: bytes


def _head(method: str, host: str, path: str, content_type: str, length: int) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()


def request(port: int, method: str, host: str, path: str, body: bytes,
            content_type: str = "application/json", timeout: float = REQUEST_TIMEOUT_S) -> Response:
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(_head(method, host, path, content_type, len(body)) + body)
        return read_response(s)


def read_response(s: socket.socket) -> Response:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(RECV_BYTES)
        if not chunk:
            raise ConnectionError(f"connection closed before the response headers: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(RECV_BYTES)
        if not chunk:
            break
        rest += chunk
    return Response(status, headers, rest[:length])


@dataclass(frozen=True)
class UploadResponse:
    """One upload as the client saw it. `status` is None when no response came back."""

    seconds: float
    bytes: int
    status: int | None = None
    headers: dict[str, str] | None = None  # the x-* response headers only
    body: str | None = None  # the first 300 characters
    send_error: str | None = None  # the upstream may answer before the body is all sent
    error: str | None = None  # no response at all


def upload(port: int, host: str, path: str, content_type: str, file: Path, nbytes: int, reps: int,
           timeout: float) -> UploadResponse:
    """One POST streaming the first `nbytes` of `file`, `reps` times, with a Content-Length."""
    total = nbytes * reps
    t0 = time.monotonic()
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s, open(file, "rb") as f:
        s.sendall(_head("POST", host, path, content_type, total))
        send_error = None
        try:
            for _ in range(reps):
                f.seek(0)
                sent = s.sendfile(f, 0, nbytes)
                if sent != nbytes:
                    raise ConnectionError(f"sendfile sent {sent} of {nbytes}")
        except OSError as err:
            send_error = repr(err)
        try:
            response = read_response(s)
        except OSError as err:
            return UploadResponse(seconds=time.monotonic() - t0, bytes=total, error=send_error or repr(err))
    return UploadResponse(
        seconds=time.monotonic() - t0, bytes=total, status=response.status,
        headers={k: v for k, v in response.headers.items() if k.startswith("x-")},
        body=response.body.decode("utf-8", "replace")[:300], send_error=send_error)
