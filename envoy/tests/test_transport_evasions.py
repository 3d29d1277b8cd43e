"""Transport and encoding evasions through a real Envoy, over HTTP/1.1 and HTTP/2 (h2c with prior
knowledge): method overrides on a POST, repeated override headers, matrix parameters, mislabelled
bodies, bracket keys, JSON in strings, oddly cased gzip, bodies in many DATA frames, and a large
text-like media upload. Requests go out with curl (nghttp2), so both codecs of
Envoy's listener are exercised, not a test client's idea of them."""

from __future__ import annotations

import gzip
import json
import subprocess
import time
import urllib.parse
import uuid

import pytest

from e2e_data import ASSISTANT_ANSWER, SUPPORT_TEXT, e2e_policy, text_message
from e2e_support import E2E_ID_HEADER, OTHER_GRAPH_PATH, Reply, stand_in

PROTOCOLS = {"http1": "--http1.1", "h2c": "--http2-prior-knowledge"}
CURL_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(e2e_policy(), name="transport")


def curl(guard, protocol: str, path: str, body: bytes, headers: list[tuple[str, str]], method: str = "POST") -> Reply:
    """One request through Envoy with curl; repeated headers stay repeated."""
    e2e_id = uuid.uuid4().hex
    args = ["curl", "-sS", PROTOCOLS[protocol], "-X", method, "-D", "-", "-o", "/dev/stdout",
            "--max-time", str(CURL_TIMEOUT_S), "--data-binary", "@-",
            "-H", "Host: graph.facebook.com", "-H", f"{E2E_ID_HEADER}: {e2e_id}",
            "-H", "authorization: Bearer EAAe2eTestToken", "-H", "Expect:"]
    for k, v in headers:
        args += ["-H", f"{k}: {v}"]
    args.append(f"http://127.0.0.1:{guard.port}{path}")
    out = subprocess.run(args, input=body, capture_output=True, timeout=CURL_TIMEOUT_S + 5, check=True).stdout
    head, _, data = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    reply_headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    return Reply(status, reply_headers, data, e2e_id)


def assert_blocked_and_unseen(guard, reply: Reply, rule: str = "content_classifier") -> None:
    assert reply.status == 403, reply
    assert reply.headers.get("x-wa-guard-rule") == rule, reply
    guard.settle()
    assert guard.received(reply) == [], "the stand-in saw (part of) a blocked request"


ASSISTANT_JSON = json.dumps(text_message(ASSISTANT_ANSWER)).encode()
FORM = {"content-type": "application/x-www-form-urlencoded"}

EVASIONS = {
    "override GET on a POST with a body": (OTHER_GRAPH_PATH, ASSISTANT_JSON,
        [("content-type", "application/json"), ("x-http-method-override", "GET")]),
    "repeated override headers": (OTHER_GRAPH_PATH, ASSISTANT_JSON,
        [("content-type", "application/json"), ("x-http-method-override", "GET"), ("x-http-method-override", "DELETE")]),
    "matrix parameters on the edge": (OTHER_GRAPH_PATH + ";x=1", ASSISTANT_JSON, [("content-type", "application/json")]),
    "JSON labelled as a form": (OTHER_GRAPH_PATH, ASSISTANT_JSON, list(FORM.items())),
    "form bracket keys": (OTHER_GRAPH_PATH,
        ("messaging_product=whatsapp&to=16505550123&type=text&text%5Bbody%5D=" + urllib.parse.quote(ASSISTANT_ANSWER)).encode(),
        list(FORM.items())),
    "JSON in a string": (OTHER_GRAPH_PATH,
        json.dumps({"messaging_product": "whatsapp", "to": "16505550123", "type": "text",
                    "text": json.dumps({"body": ASSISTANT_ANSWER})}).encode(),
        [("content-type", "application/json")]),
    "gzip named in capitals": (OTHER_GRAPH_PATH, gzip.compress(ASSISTANT_JSON),
        [("content-type", "application/json"), ("content-encoding", "GZIP")]),
    "marketing_messages edge": (OTHER_GRAPH_PATH.replace("/messages", "/marketing_messages"), ASSISTANT_JSON,
        [("content-type", "application/json")]),
    # JSON allows whitespace between tokens: 40 KB of it puts the text in a later DATA frame.
    "body over many DATA frames": (OTHER_GRAPH_PATH,
        b"{" + b" " * 40_000 + ASSISTANT_JSON[1:],
        [("content-type", "application/json")]),
}


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@pytest.mark.parametrize("evasion", sorted(EVASIONS))
def test_evasion_is_blocked(guard, protocol, evasion):
    path, body, headers = EVASIONS[evasion]
    assert_blocked_and_unseen(guard, curl(guard, protocol, path, body, headers))


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_service_send_with_the_same_tricks_passes_byte_exact(guard, protocol):
    body = b"{" + b" " * 40_000 + json.dumps(text_message(SUPPORT_TEXT)).encode()[1:]
    reply = curl(guard, protocol, OTHER_GRAPH_PATH + ";x=1", body,
                 [("content-type", "application/json"), ("x-http-method-override", "GET")])
    assert reply.status == 200, reply
    seen = guard.received(reply)
    assert len(seen) == 1 and stand_in.record_body(seen[0]) == body


def multipart(parts: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for headers, content in parts:
        out += b"--b0undary\r\n" + headers.encode() + b"\r\n\r\n" + content + b"\r\n"
    return out + b"--b0undary--\r\n"


MEDIA_PATH = OTHER_GRAPH_PATH.replace("/messages", "/media")
MEDIA_HEADERS = [("content-type", "multipart/form-data; boundary=b0undary")]
PRODUCT_PART = ('Content-Disposition: form-data; name="messaging_product"', b"whatsapp")


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_text_media_upload_is_read(guard, protocol):
    text_part = ('Content-Disposition: form-data; name="file"; filename="answer.txt"\r\nContent-Type: text/plain',
                 ASSISTANT_ANSWER.encode())
    reply = curl(guard, protocol, MEDIA_PATH, multipart([PRODUCT_PART, text_part]), MEDIA_HEADERS)
    assert reply.status == 403, reply
    assert reply.headers.get("x-wa-guard-rule") == "content_classifier", reply
    guard.settle()
    # The media route has no buffer filter (large images stream; test_large_media.py): its
    # headers may reach the upstream before the guard's decision, its body never does.
    assert all(not r["complete"] and r["body_len"] == 0 for r in guard.received(reply)), guard.received(reply)


def test_access_log_never_prints_query_strings(guard):
    """Sends can carry text, `to` and tokens in the query; the access log prints the path only."""
    secret = "q-secret-" + uuid.uuid4().hex[:8]
    path = OTHER_GRAPH_PATH + f"?access_token={secret}&to=16505550123&text%5Bbody%5D={secret}"
    reply = curl(guard, "http1", path, json.dumps(text_message(SUPPORT_TEXT)).encode(), [("content-type", "application/json")])
    assert reply.status == 200, reply
    access = ""
    for _ in range(50):  # the access log is flushed asynchronously; bounded wait
        access = guard.process.stdout_path.read_text(errors="replace")
        if OTHER_GRAPH_PATH in access:
            break
        time.sleep(0.1)
    assert OTHER_GRAPH_PATH in access, access[-2000:]
    assert secret not in access
    assert secret not in guard.log_text()
