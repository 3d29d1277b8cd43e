"""An HTTP/2 client for the e2e suite that controls what curl cannot: the request body as DATA
frames of chosen sizes, and request trailers (a HEADERS frame with END_STREAM after the data).

Built on the `h2` state machine (pure Python, pinned in requirements-test.txt). One request per
connection, over h2c (prior knowledge) or TLS with ALPN `h2`. The client respects both flow
control windows (it waits for WINDOW_UPDATE rather than overrunning them), notices a response
or a reset that arrives while it is still sending, and bounds every wait: the socket has a
timeout and the whole exchange a deadline, so a stalled stream fails the test instead of
hanging it.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

import h2.config
import h2.connection
import h2.events
import h2.exceptions

LOOPBACK = "127.0.0.1"
DEFAULT_TIMEOUT_S = 10.0
READ_SIZE = 65536

Header = tuple[str, str]


class H2ExchangeError(Exception):
    """The exchange did not complete: a timeout, a closed connection, a protocol error."""


@dataclass
class H2Request:
    method: str
    authority: str
    path: str
    headers: list[Header] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    trailers: list[Header] | None = None


@dataclass
class H2Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    e2e_id: str
    alpn: str | None
    # What happened on the wire: how many DATA frames went out (a reply or a reset can cut the
    # upload short), whether the trailers went out, and the RST_STREAM code if Envoy reset it.
    frames_sent: int = 0
    trailers_sent: bool = False
    reset_code: int | None = None
    trailers: dict[str, str] = field(default_factory=dict)
    # Every response header in order, repeats kept (`headers` keeps the last of each name).
    header_list: list[Header] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.header_list if k == name.lower()]

    def __str__(self) -> str:
        """Everything an assertion message needs, untruncated."""
        return (f"HTTP/2 {self.status} (alpn {self.alpn}, {self.frames_sent} DATA frames sent, "
                f"trailers sent: {self.trailers_sent}, reset: {self.reset_code})\n"
                f"headers: {self.header_list}\nbody: {self.body[:600]!r}")


def tls_context(ca: str, cert: str, key: str) -> ssl.SSLContext:
    """A client context that trusts `ca`, presents `cert` and offers only `h2` by ALPN."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca))
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    context.set_alpn_protocols(["h2"])
    return context


# --- framing -------------------------------------------------------------------------------
def frames_cut_at(body: bytes, offsets: Iterable[int]) -> list[bytes]:
    """`body` cut at each offset (0 < offset < len(body)); every byte lands in exactly one frame."""
    cuts = sorted({o for o in offsets if 0 < o < len(body)})
    edges = [0, *cuts, len(body)]
    return [body[a:b] for a, b in zip(edges, edges[1:])]


def frames_of_size(body: bytes, size: int) -> list[bytes]:
    return frames_cut_at(body, range(size, len(body), size))


def one_byte_frames_around(body: bytes, positions: Iterable[int], radius: int, rest: int = 64) -> list[bytes]:
    """1-byte frames for the `radius` bytes either side of every position, `rest`-byte frames elsewhere."""
    fine = {p for pos in positions for p in range(pos - radius, pos + radius + 1)}
    offsets = set(range(rest, len(body), rest))
    for p in fine:
        offsets.update((p, p + 1))
    return frames_cut_at(body, offsets)


# --- the exchange --------------------------------------------------------------------------
class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self, what: str) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise H2ExchangeError(f"timed out after {self.seconds}s {what}")
        return left


def _connect(port: int, tls: ssl.SSLContext | None, timeout: float) -> tuple[socket.socket, str | None]:
    sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    if tls is None:
        return sock, None
    try:
        wrapped = tls.wrap_socket(sock, server_hostname=LOOPBACK)
    except BaseException:
        sock.close()
        raise
    wrapped.settimeout(timeout)
    return wrapped, wrapped.selected_alpn_protocol()


class _Stream:
    """The client side of one stream on one connection, fed by the socket."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.stream_id = 0
        self.status: int | None = None
        self.headers: list[Header] = []
        self.trailers: dict[str, str] = {}
        self.body = bytearray()
        self.ended = False
        self.reset_code: int | None = None
        self.connection_closed = False

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.settimeout(self.deadline.remaining("sending"))
            self.sock.sendall(data)

    @property
    def finished(self) -> bool:
        return self.ended or self.reset_code is not None or self.connection_closed

    def receive(self, block: bool, what: str) -> None:
        """Read once from the socket (waiting if `block`) and apply the events."""
        if not block:
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
            if not pending and not select.select([self.sock], [], [], 0)[0]:
                return
        self.sock.settimeout(self.deadline.remaining(what))
        try:
            data = self.sock.recv(READ_SIZE)
        except TimeoutError as err:
            raise H2ExchangeError(f"timed out after {self.deadline.seconds}s {what}") from err
        if not data:
            self.connection_closed = True
            return
        for event in self.conn.receive_data(data):
            self._apply(event)
        self.flush()

    def _apply(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ConnectionTerminated):
            self.connection_closed = True
        if getattr(event, "stream_id", None) != self.stream_id:
            return
        if isinstance(event, h2.events.ResponseReceived):
            pairs = [(str(k), str(v)) for k, v in event.headers or []]
            self.status = int(dict(pairs)[":status"])
            self.headers = [(k.lower(), v) for k, v in pairs if not k.startswith(":")]
        elif isinstance(event, h2.events.DataReceived):
            self.body += event.data or b""
            self.conn.acknowledge_received_data(event.flow_controlled_length or 0, self.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            self.trailers = {str(k).lower(): str(v) for k, v in event.headers or []}
        elif isinstance(event, h2.events.StreamEnded):
            self.ended = True
        elif isinstance(event, h2.events.StreamReset):
            self.reset_code = int(event.error_code or 0)

    def send_frame(self, chunk: bytes, end_stream: bool) -> bool:
        """One DATA frame (split only if larger than the peer's max frame size), within the
        flow control windows. False when the stream is over before it could go out."""
        max_frame = self.conn.max_outbound_frame_size
        pieces = [chunk[i : i + max_frame] for i in range(0, len(chunk), max_frame)] or [b""]
        for index, piece in enumerate(pieces):
            while not self.finished and self.conn.local_flow_control_window(self.stream_id) < len(piece):
                self.receive(block=True, what="waiting for a flow control window")
            if self.finished:
                return False
            try:
                self.conn.send_data(self.stream_id, piece, end_stream=end_stream and index == len(pieces) - 1)
            except h2.exceptions.StreamClosedError:
                return False
            self.flush()
        return True


def exchange(
    port: int,
    request: H2Request,
    *,
    tls: ssl.SSLContext | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    e2e_id_header: str = "x-e2e-id",
    frame_gap_s: float = 0.0,
) -> H2Reply:
    """Sends `request` on a fresh connection and reads the response. `frame_gap_s` sleeps between
    DATA frames so that each arrives in its own read on Envoy's side."""
    e2e_id = uuid.uuid4().hex
    deadline = _Deadline(timeout)
    sock, alpn = _connect(port, tls, timeout)
    try:
        stream = _Stream(sock, deadline)
        stream.conn.initiate_connection()
        stream.flush()
        stream.stream_id = stream.conn.get_next_available_stream_id()
        headers = [
            (":method", request.method),
            (":scheme", "https" if tls is not None else "http"),
            (":authority", request.authority),
            (":path", request.path),
            (e2e_id_header, e2e_id),
            *request.headers,
        ]
        frames = [f for f in request.frames if f]
        has_trailers = request.trailers is not None
        stream.conn.send_headers(stream.stream_id, headers, end_stream=not frames and not has_trailers)
        stream.flush()
        sent = 0
        for index, frame in enumerate(frames):
            stream.receive(block=False, what="reading while sending")
            last = index == len(frames) - 1
            if not stream.send_frame(frame, end_stream=last and not has_trailers):
                break
            sent += 1
            if frame_gap_s and not last:
                time.sleep(frame_gap_s)
        trailers_sent = False
        if has_trailers and sent == len(frames) and not stream.finished:
            try:
                stream.conn.send_headers(stream.stream_id, request.trailers or [], end_stream=True)
                stream.flush()
                trailers_sent = True
            except h2.exceptions.StreamClosedError:
                pass
        while not stream.finished:
            stream.receive(block=True, what="waiting for the response")
        if stream.status is None:
            why = f"reset with code {stream.reset_code}" if stream.reset_code is not None else "connection closed"
            raise H2ExchangeError(f"no response: {why} after {sent} of {len(frames)} DATA frames")
        return H2Reply(
            status=stream.status,
            headers=dict(stream.headers),
            body=bytes(stream.body),
            e2e_id=e2e_id,
            alpn=alpn,
            frames_sent=sent,
            trailers_sent=trailers_sent,
            reset_code=stream.reset_code,
            trailers=stream.trailers,
            header_list=stream.headers,
        )
    finally:
        try:
            sock.close()
        except OSError:
            pass
