#!/usr/bin/env python3
"""A fast HTTP/1.1 sink for the upload benchmarks: reads each request body to its end
(Content-Length or chunked), discards it, and answers 200 with the byte count.

stand_in.py records bodies, which is far too slow and heavy for a 1 GB upload. This one
keeps nothing: one thread per connection, 1 MiB recv_into, chunked framing parsed in place.
Loopback only.

    python envoy/bench/sink.py --port-file PATH     # binds 127.0.0.1:0, writes the port
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading

RECV = 1 << 20
MAX_HEAD = 64 * 1024


class Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray(RECV)
        self.view = memoryview(self.buf)
        self.start = 0  # unread bytes are buf[start:end]
        self.end = 0

    def fill(self) -> bool:
        if self.start == self.end:
            self.start = self.end = 0
        elif self.end == len(self.buf):
            # compact: move the unread tail to the front
            n = self.end - self.start
            self.buf[0:n] = self.buf[self.start:self.end]
            self.start, self.end = 0, n
        n = self.sock.recv_into(self.view[self.end:])
        if n == 0:
            return False
        self.end += n
        return True

    def line(self) -> bytes | None:
        while True:
            i = self.buf.find(b"\r\n", self.start, self.end)
            if i >= 0:
                out = bytes(self.buf[self.start:i])
                self.start = i + 2
                return out
            if self.end - self.start > MAX_HEAD or not self.fill():
                return None

    def skip(self, n: int) -> bool:
        while n > 0:
            if self.start == self.end and not self.fill():
                return False
            take = min(n, self.end - self.start)
            self.start += take
            n -= take
        return True


def serve(sock: socket.socket) -> None:
    conn = Conn(sock)
    try:
        while True:
            request_line = conn.line()
            if not request_line:
                return
            headers = {}
            while True:
                h = conn.line()
                if h is None:
                    return
                if h == b"":
                    break
                name, _, value = h.partition(b":")
                headers[name.strip().lower()] = value.strip()
            received = 0
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                while True:
                    size_line = conn.line()
                    if size_line is None:
                        return
                    size = int(size_line.split(b";", 1)[0], 16)
                    if size == 0:
                        # trailers until an empty line
                        while True:
                            t = conn.line()
                            if t is None:
                                return
                            if t == b"":
                                break
                        break
                    if not conn.skip(size + 2):
                        return
                    received += size
            else:
                length = int(headers.get(b"content-length", b"0"))
                if not conn.skip(length):
                    return
                received = length
            body = b'{"received":%d}' % received
            sock.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                b"x-sink-received: %d\r\n\r\n%s" % (len(body), received, body)
            )
    except (OSError, ValueError):
        return
    finally:
        sock.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.port))
    server.listen(64)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(server.getsockname()[1]))
    os.replace(tmp, args.port_file)
    while True:
        client, _ = server.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
