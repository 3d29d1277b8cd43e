#!/usr/bin/env python3
"""Loopback stand-in for the upstreams the egress guard protects.

One threaded HTTP/1.1 server plays every upstream host (Envoy keeps the original
`Host`, so the stand-in answers by host): the WhatsApp Cloud API on
graph.facebook.com, the WhatsApp providers (360dialog, Twilio, Vonage,
Infobip, Bird, Gupshup, Sinch, AWS End User Messaging Social), the AI training
endpoints, and "anything else". It records
every request it receives (method, path, headers, the exact body bytes, whether
the body was chunked) and serves the records on a second, separate control port:

    GET  /__received   -> {"requests": [record, ...]}
    POST /__reset      -> forget every record
    GET  /__health     -> {"ok": true}

A record is written as soon as the request *headers* arrive (`complete: false`)
and completed once the body has been read, so a request whose headers reached
the upstream but whose body never did is still visible.

Used two ways:
  * in-process: `StandIn().start()` (the pytest suite);
  * as a program (the demo): `python envoy/stand_in.py --ready-file F [--record F.jsonl]`
    binds both ports on 127.0.0.1 (chosen free by the kernel), writes
    `{"api_port":..,"control_port":..,"pid":..}` to the ready file, and serves until
    SIGTERM/SIGINT. With `--record`, every completed record is also appended to a JSONL file.

Python standard library only.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import email.policy
import hashlib
import http.server
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from typing import Any

LOOPBACK = "127.0.0.1"

WHATSAPP_HOSTS = ("graph.facebook.com",)
TRAINING_HOSTS = (
    "api.openai.com",
    "api.mistral.ai",
    "api.together.xyz",
    "api.fireworks.ai",
    "api.cohere.com",
    "huggingface.co",
    "api.scale.com",
    "api.labelbox.com",
    "generativelanguage.googleapis.com",
)
TRAINING_SUFFIXES = (".openai.azure.com", "-aiplatform.googleapis.com", ".amazonaws.com")

# Bound every socket read so a stuck peer can never hang a handler thread forever.
SOCKET_TIMEOUT_S = 10.0
MAX_BODY_BYTES = 64 * 1024 * 1024


def host_without_port(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]


def is_training_host(host: str) -> bool:
    return host in TRAINING_HOSTS or any(host.endswith(s) for s in TRAINING_SUFFIXES)


class RecordBook:
    """Thread-safe list of received requests, optionally mirrored to a JSONL file."""

    def __init__(self, jsonl_path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._seq = 0
        self._jsonl_path = jsonl_path

    def open_record(self, record: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            record["seq"] = self._seq
            self._records.append(record)
        return record

    def close_record(self, record: dict[str, Any]) -> None:
        if self._jsonl_path is None:
            return
        line = json.dumps(record, sort_keys=True)
        with self._lock, open(self._jsonl_path, "a", encoding="utf-8") as out:
            out.write(line + "\n")

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._records]

    def reset(self) -> None:
        with self._lock:
            self._records.clear()


class ChunkedBodyError(Exception):
    pass


def multipart_field(content_type: str, body: bytes, name: str) -> bytes | None:
    """The content of one multipart/form-data field, or None."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"content-type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            return part.get_payload(decode=True)
    return None


class UploadsApi:
    """OpenAI's Uploads API as the real one behaves for this test: an Upload declares its
    size, parts are stored as received, and /complete assembles them in `part_ids` order and
    fails when the assembled size is not the declared one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, dict[str, Any]] = {}
        self._parts: dict[str, bytes] = {}

    def assembled(self, upload_id: str) -> bytes | None:
        with self._lock:
            return self._uploads.get(upload_id, {}).get("file_bytes")

    def answer(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        now = int(time.time())
        segments = path.split("?", 1)[0].strip("/").split("/")
        with self._lock:
            if segments == ["v1", "uploads"]:
                request = json.loads(body or b"{}")
                upload_id = "upload_" + secrets.token_hex(8)
                upload = {
                    "id": upload_id, "object": "upload", "bytes": int(request.get("bytes", 0)),
                    "filename": request.get("filename", ""), "purpose": request.get("purpose", ""),
                    "status": "pending", "created_at": now, "expires_at": now + 3600,
                }
                self._uploads[upload_id] = dict(upload, parts=[])
                return 200, upload
            if len(segments) != 4 or segments[1] != "uploads" or segments[2] not in self._uploads:
                return 404, {"error": {"message": "No such upload", "type": "invalid_request_error"}}
            upload = self._uploads[segments[2]]
            public = {k: v for k, v in upload.items() if k not in ("parts", "file_bytes")}
            if segments[3] == "parts":
                data = multipart_field(content_type, body, "data")
                if data is None:
                    return 400, {"error": {"message": "missing data", "type": "invalid_request_error"}}
                part_id = "part_" + secrets.token_hex(8)
                self._parts[part_id] = data
                upload["parts"].append(part_id)
                return 200, {"id": part_id, "object": "upload.part", "created_at": now, "upload_id": upload["id"]}
            if segments[3] == "complete":
                request = json.loads(body or b"{}")
                ids = request.get("part_ids", [])
                if any(i not in upload["parts"] for i in ids):
                    return 400, {"error": {"message": "unknown part", "type": "invalid_request_error"}}
                assembled = b"".join(self._parts[i] for i in ids)
                if len(assembled) != upload["bytes"]:
                    return 400, {"error": {
                        "message": f"The number of bytes uploaded ({len(assembled)}) does not match "
                                   f"the number declared ({upload['bytes']}).",
                        "type": "invalid_request_error"}}
                upload["file_bytes"] = assembled
                upload["status"] = "completed"
                public["status"] = "completed"
                public["file"] = {"id": "file-" + secrets.token_hex(12), "object": "file",
                                  "bytes": len(assembled), "created_at": now,
                                  "filename": upload["filename"], "purpose": upload["purpose"],
                                  "status": "processed"}
                return 200, public
            return 404, {"error": {"message": "unknown uploads path", "type": "invalid_request_error"}}


def read_chunked(rfile: Any, limit: int) -> bytes:
    """Decode an HTTP/1.1 chunked body, returning the exact payload bytes."""
    out = bytearray()
    while True:
        size_line = rfile.readline(1024)
        if not size_line:
            raise ChunkedBodyError("connection closed inside chunked body")
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as err:
            raise ChunkedBodyError(f"bad chunk size line {size_line!r}") from err
        if size == 0:
            # Trailers (if any) end with an empty line.
            while True:
                trailer = rfile.readline(8192)
                if trailer in (b"\r\n", b"\n", b""):
                    return bytes(out)
        if len(out) + size > limit:
            raise ChunkedBodyError("chunked body over the stand-in's limit")
        chunk = rfile.read(size)
        if len(chunk) != size:
            raise ChunkedBodyError("connection closed inside a chunk")
        out += chunk
        if rfile.readline(16) not in (b"\r\n", b"\n"):
            raise ChunkedBodyError("missing CRLF after chunk")


def wamid() -> str:
    raw = b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(18)
    return "wamid." + base64.b64encode(raw).decode("ascii")


def whatsapp_answer(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """Answer the way the Cloud API does for the calls the guard inspects."""
    parsed: Any = None
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if method == "POST" and re.fullmatch(r"/v\d+\.\d+/[^/]+/messages", path.split("?", 1)[0]):
        if isinstance(parsed, dict) and parsed.get("status") == "read":
            return 200, {"success": True}
        to = str(parsed.get("to", "")) if isinstance(parsed, dict) else ""
        contacts = [{"input": to, "wa_id": re.sub(r"\D", "", to)}] if to else []
        return 200, {"messaging_product": "whatsapp", "contacts": contacts, "messages": [{"id": wamid()}]}
    if method == "POST" and re.fullmatch(r"/v\d+\.\d+/[^/]+/media", path.split("?", 1)[0]):
        return 200, {"id": str(secrets.randbelow(10**15) + 10**15)}
    if method == "POST" and re.fullmatch(r"/v\d+\.\d+/[^/]+/message_templates", path.split("?", 1)[0]):
        category = parsed.get("category", "UTILITY") if isinstance(parsed, dict) else "UTILITY"
        return 200, {"id": str(secrets.randbelow(10**15) + 10**15), "status": "PENDING", "category": category}
    return 200, {"success": True}


def provider_answer(host: str, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]] | None:
    """Answer as a WhatsApp Business Solution Provider does, for the sends the guard reads:
    360dialog with the Cloud API's reply, Twilio with a Message resource (201) and a Conversations
    Message (201), Vonage with a message_uuid (202), Bird, Gupshup, Sinch and AWS End User
    Messaging Social with their message ids. None: not a
    provider host."""
    bare = path.split("?", 1)[0]
    if host.endswith(".360dialog.io"):
        if method == "POST" and re.fullmatch(r"(/v1)?/(marketing_)?messages", bare):
            return whatsapp_answer("POST", "/v21.0/0/messages", body)
        return 200, {"success": True}
    if host == "api.twilio.com" or re.fullmatch(r"api(\.[a-z0-9-]+){1,2}\.twilio\.com", host):
        match = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages(\.json)?", bare)
        if method == "POST" and match:
            fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            first = lambda k: (fields.get(k) or [None])[0]  # noqa: E731
            return 201, {
                "sid": "SM" + secrets.token_hex(16),
                "account_sid": match.group(1),
                "to": first("To"),
                "from": first("From"),
                "messaging_service_sid": first("MessagingServiceSid"),
                "body": first("Body") or "",
                "status": "queued",
                "num_media": str(len(fields.get("MediaUrl", []))),
                "api_version": "2010-04-01",
            }
        return 200, {"ok": True, "host": host, "path": path}
    if host == "content.twilio.com":
        if method == "POST" and bare == "/v1/Content":
            return 201, {"sid": "HX" + secrets.token_hex(16), "friendly_name": (json.loads(body or b"{}") or {}).get("friendly_name")}
        return 200, {"ok": True, "host": host, "path": path}
    if host == "conversations.twilio.com":
        match = re.fullmatch(r"/v1/(?:Services/([^/]+)/)?Conversations/([^/]+)/Messages", bare)
        if method == "POST" and match:
            fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            return 201, {
                "sid": "IM" + secrets.token_hex(16),
                "chat_service_sid": match.group(1) or "IS" + "0" * 32,
                "conversation_sid": match.group(2),
                "author": (fields.get("Author") or ["system"])[0],
                "body": (fields.get("Body") or [None])[0],
                "index": 0,
            }
        return 200, {"ok": True, "host": host, "path": path}
    if host in ("api.nexmo.com", "messages-sandbox.nexmo.com") or re.fullmatch(r"api-[a-z]+\.vonage\.com", host):
        if method == "POST" and re.fullmatch(r"/v(1|0\.1)/messages", bare):
            return 202, {"message_uuid": str(uuid.uuid4())}
        return 200, {"ok": True, "host": host, "path": path}
    if host in ("api.bird.com", "conversations.messagebird.com", "whatsapp-sandbox.messagebird.com") or host.endswith(".platform.bird.com"):
        if method == "POST" and re.search(r"/messages$|/v1/send$|/conversations/start$", bare):
            return 202, {"id": str(uuid.uuid4()), "status": "accepted"}
        return 200, {"ok": True, "host": host, "path": path}
    if host in ("api.gupshup.io", "partner.gupshup.io"):
        if method == "POST" and bare.endswith("/v3/message"):
            return whatsapp_answer("POST", "/v21.0/0/messages", body)
        if method == "POST" and bare.endswith("/msg"):
            return 202, {"status": "submitted", "messageId": str(uuid.uuid4())}
        return 200, {"ok": True, "host": host, "path": path}
    if host.endswith(".conversation.api.sinch.com"):
        if method == "POST" and re.search(r"/messages(:|%3A)send$", bare):
            return 200, {"accepted_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "message_id": secrets.token_hex(13).upper()}
        return 200, {"ok": True, "host": host, "path": path}
    if host.startswith(("social-messaging.", "social-messaging-fips.")):
        if method == "POST" and bare == "/v1/whatsapp/send":
            return 200, {"messageId": str(uuid.uuid4())}
        return 200, {"ok": True, "host": host, "path": path}
    if host == "api.infobip.com" or host.endswith(".api.infobip.com"):
        if method == "POST" and re.fullmatch(r"/(whatsapp/\d+/message/.+|messages-api/\d+/messages)", bare):
            return 200, {"messages": [{"messageId": str(uuid.uuid4()), "status": {"groupName": "PENDING"}}]}
        return 200, {"ok": True, "host": host, "path": path}
    return None


def training_answer(host: str, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    digest = hashlib.sha256(body).hexdigest()
    if host == "api.openai.com" and method == "POST" and path.split("?", 1)[0] == "/v1/files":
        return 200, {
            "id": "file-" + secrets.token_hex(12),
            "object": "file",
            "bytes": len(body),
            "created_at": int(time.time()),
            "filename": "upload.jsonl",
            "purpose": "fine-tune",
            "sha256": digest,
        }
    return 200, {"object": "ack", "host": host, "path": path, "received_bytes": len(body), "sha256": digest}


def gcs_session_location(host: str, method: str, path: str) -> str | None:
    """The session URI GCS answers a JSON API resumable session start with (a fresh upload_id)."""
    base, _, query = path.partition("?")
    params = query.split("&")
    if host != "storage.googleapis.com" or method != "POST" or "uploadType=resumable" not in params:
        return None
    if any(p.startswith("upload_id=") for p in params):
        return None
    return f"https://storage.googleapis.com{base}?{query}&upload_id=e2e-{secrets.token_hex(8)}"


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wa-guard-stand-in/1"
    book: RecordBook  # set on the subclass built by StandIn
    uploads: UploadsApi  # likewise

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(SOCKET_TIMEOUT_S)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        return

    def _handle(self) -> None:
        header_pairs = [[k, v] for k, v in self.headers.items()]
        transfer_encoding = (self.headers.get("transfer-encoding") or "").lower()
        chunked = "chunked" in transfer_encoding
        host = host_without_port(self.headers.get("host", ""))
        record = self.book.open_record(
            {
                "time": time.time(),
                "client": f"{self.client_address[0]}:{self.client_address[1]}",
                "method": self.command,
                "path": self.path,
                "host": host,
                "headers": header_pairs,
                "chunked": chunked,
                "content_length": self.headers.get("content-length"),
                "complete": False,
                "body_b64": "",
                "body_len": 0,
                "body_sha256": None,
                "error": None,
            }
        )
        try:
            body = self._read_body(chunked)
        except (ChunkedBodyError, OSError, ValueError) as err:
            record["error"] = f"{type(err).__name__}: {err}"
            self.book.close_record(record)
            self.close_connection = True
            return
        record.update(
            complete=True,
            body_b64=base64.b64encode(body).decode("ascii"),
            body_len=len(body),
            body_sha256=hashlib.sha256(body).hexdigest(),
        )
        self.book.close_record(record)

        if host in WHATSAPP_HOSTS:
            status, payload = whatsapp_answer(self.command, self.path, body)
        elif host == "api.openai.com" and self.command == "POST" and self.path.startswith("/v1/uploads"):
            status, payload = self.uploads.answer(self.path, self.headers.get("content-type", ""), body)
        elif (answer := provider_answer(host, self.command, self.path, body)) is not None:
            status, payload = answer
        elif is_training_host(host):
            status, payload = training_answer(host, self.command, self.path, body)
        else:
            status, payload = 200, {"ok": True, "host": host, "path": self.path, "received_bytes": len(body)}
        self._reply(status, payload, record, gcs_session_location(host, self.command, self.path))

    def _read_body(self, chunked: bool) -> bytes:
        if chunked:
            return read_chunked(self.rfile, MAX_BODY_BYTES)
        length_text = self.headers.get("content-length")
        if not length_text:
            return b""
        length = int(length_text)
        if length < 0 or length > MAX_BODY_BYTES:
            raise ValueError(f"content-length {length} out of range")
        body = self.rfile.read(length)
        if len(body) != length:
            raise OSError(f"connection closed after {len(body)} of {length} body bytes")
        return body

    def _reply(self, status: int, payload: dict[str, Any], record: dict[str, Any], location: str | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        if location is not None:
            self.send_header("location", location)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-stand-in-seq", str(record["seq"]))
        self.send_header("x-stand-in-body-sha256", str(record["body_sha256"]))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    book: RecordBook

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(SOCKET_TIMEOUT_S)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/__received":
            self._json(200, {"requests": self.book.snapshot()})
        elif self.path == "/__health":
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": "unknown control path"})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(min(length, 65536))
        if self.path == "/__reset":
            self.book.reset()
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": "unknown control path"})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class StandIn:
    """The two loopback servers (upstream + control) sharing one RecordBook."""

    def __init__(self, jsonl_path: str | None = None, host: str = LOOPBACK) -> None:
        self.book = RecordBook(jsonl_path)
        self.uploads = UploadsApi()
        upstream_cls = type("BoundUpstreamHandler", (UpstreamHandler,), {"book": self.book, "uploads": self.uploads})
        control_cls = type("BoundControlHandler", (ControlHandler,), {"book": self.book})
        self._api = _Server((host, 0), upstream_cls)
        self._control = _Server((host, 0), control_cls)
        self._threads: list[threading.Thread] = []

    @property
    def api_port(self) -> int:
        return int(self._api.server_address[1])

    @property
    def control_port(self) -> int:
        return int(self._control.server_address[1])

    def start(self) -> "StandIn":
        for server, name in ((self._api, "stand-in-api"), (self._control, "stand-in-control")):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._api, self._control):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    # Convenience for in-process users.
    def received(self) -> list[dict[str, Any]]:
        return self.book.snapshot()

    def reset(self) -> None:
        self.book.reset()


def record_body(record: dict[str, Any]) -> bytes:
    return base64.b64decode(record.get("body_b64") or "")


def record_header(record: dict[str, Any], name: str) -> str | None:
    name = name.lower()
    for key, value in record.get("headers", []):
        if key.lower() == name:
            return value
    return None


def _write_atomically(path: str, payload: dict[str, Any]) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(payload, out)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--ready-file", required=True, help="write {api_port, control_port, pid} here once listening")
    parser.add_argument("--record", help="append every completed request record to this JSONL file")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="exit on its own after this long (safety net)")
    args = parser.parse_args(argv)

    stand_in = StandIn(jsonl_path=args.record).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _write_atomically(
        args.ready_file,
        {"api_port": stand_in.api_port, "control_port": stand_in.control_port, "pid": os.getpid()},
    )
    stop.wait(timeout=args.max_seconds)
    stand_in.stop()
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(SOCKET_TIMEOUT_S)
    sys.exit(main())
