"""A loopback HTTP/2 upstream (h2c, prior knowledge) that records every request's headers, exact
body bytes and trailers.

The suite's stand-in (envoy/stand_in.py) speaks HTTP/1.1, where request trailers only exist
inside a chunked body and the stand-in discards them. This one shows what Envoy forwards to an
HTTP/2 upstream, trailers included. It answers every request that ends with 200 and a small
JSON body. Threads exit on `stop()`; every socket read has a timeout.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions

LOOPBACK = "127.0.0.1"
POLL_S = 0.2
READ_SIZE = 65536
ANSWER = b'{"ok": true, "upstream": "h2"}'


class H2StandIn:
    def __init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(POLL_S)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> "H2StandIn":
        self._spawn(self._accept_loop, "h2-stand-in-accept")
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def received(self, header: str, value: str) -> list[dict[str, Any]]:
        """Snapshots of the records whose request header `header` is `value`."""
        with self._lock:
            return [dict(r) for r in self._records if dict(r["headers"]).get(header) == value]

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            sock.settimeout(POLL_S)
            self._spawn(self._serve, "h2-stand-in-conn", sock)

    def _serve(self, sock: socket.socket) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        streams: dict[int, dict[str, Any]] = {}
        try:
            sock.sendall(conn.data_to_send())
            while not self._stop.is_set():
                try:
                    data = sock.recv(READ_SIZE)
                except TimeoutError:
                    continue
                if not data:
                    return
                for event in conn.receive_data(data):
                    self._apply(conn, streams, event)
                sock.sendall(conn.data_to_send())
        except (OSError, h2.exceptions.ProtocolError):
            return
        finally:
            sock.close()

    def _apply(self, conn: h2.connection.H2Connection, streams: dict[int, dict[str, Any]], event: Any) -> None:
        if isinstance(event, h2.events.RequestReceived):
            record = {"headers": [(str(k), str(v)) for k, v in event.headers or []], "body": b"",
                      "trailers": None, "complete": False, "data_frames": 0}
            streams[event.stream_id] = record
            with self._lock:
                self._records.append(record)
        elif isinstance(event, h2.events.DataReceived):
            record = streams[event.stream_id]
            with self._lock:
                record["body"] += event.data or b""
                record["data_frames"] += 1
            conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            with self._lock:
                streams[event.stream_id]["trailers"] = [(str(k), str(v)) for k, v in event.headers or []]
        elif isinstance(event, h2.events.StreamEnded):
            with self._lock:
                streams[event.stream_id]["complete"] = True
            conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/json"),
                                                ("content-length", str(len(ANSWER)))])
            conn.send_data(event.stream_id, ANSWER, end_stream=True)
