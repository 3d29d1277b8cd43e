"""Large WhatsApp media uploads through a real Envoy, over HTTP/1.1 and h2c (curl, nghttp2).

The guard lets an upload to `/vNN.N/{phone-number-id}/media` that is larger than
`limits.max_body_bytes` stream when its file part is declared as an image, audio or video,
and decides when it ends (filter/src/flow.rs, state WatchingMedia). The bootstraps give that
edge a route of its own, `whatsapp_media_upload`, without the buffer filter, so Envoy does not
refuse such an upload with 413 either. Everything else the guard must read is still held by
the guard until it has read it whole; what the route gives up is that the request headers may
reach the upstream before the guard's decision, so a blocked request's record at the stand-in,
if any, must be headers only (`complete: false`, no body byte).

Which route served a request is read from the access log (`route=%ROUTE_NAME%`), found by a
phone-number id used once. Over h2c a request refused while curl is still sending ends in a
stream reset that curl reports as an error, so the status asserted is the one in Envoy's
access log (over HTTP/1.1 curl's status must agree with it)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import subprocess
import uuid
from dataclasses import dataclass

import pytest

from e2e_data import ASSISTANT_ANSWER, SUPPORT_TEXT, e2e_policy, text_message
from e2e_support import E2E_ID_HEADER, GuardedEnvoy, launch, stand_in, wait_until

PROTOCOLS = {"http1": "--http1.1", "h2c": "--http2-prior-knowledge"}
CURL_TIMEOUT_S = 30
MEDIA_ROUTE = "whatsapp_media_upload"

SMALL_LIMIT = 16384  # limits.max_body_bytes of the main guard
WIDE_LIMIT = 2_000_000  # above Envoy's default 1 MiB per-connection buffer limit


def policy_with_limit(max_body_bytes: int) -> dict:
    policy = e2e_policy()
    policy["limits"] = {**policy["limits"], "max_body_bytes": max_body_bytes,
                        "max_decompressed_bytes": max(4 * max_body_bytes, 262144)}
    return policy


@pytest.fixture(scope="module")
def guard(start_guard) -> GuardedEnvoy:
    return start_guard(policy_with_limit(SMALL_LIMIT), name="large-media")


@pytest.fixture(scope="module")
def wide_guard(start_guard) -> GuardedEnvoy:
    return start_guard(policy_with_limit(WIDE_LIMIT), name="large-media-wide")


# --- requests ------------------------------------------------------------------------------


@dataclass
class Sent:
    e2e_id: str
    path_id: str
    curl_status: int | None  # None: curl saw no status line (h2c stream reset)
    body: bytes  # what curl received


def new_path_id() -> str:
    """A phone-number id no rule names (unknown numbers are allowed): it finds the access log line."""
    return "1" + "".join(secrets.choice("0123456789") for _ in range(14))


def curl(guard: GuardedEnvoy, protocol: str, path: str, body: bytes, content_type: str) -> Sent:
    """POSTs `body` to `path`, where `{id}` stands for a fresh phone-number id."""
    e2e_id, path_id = uuid.uuid4().hex, new_path_id()
    args = ["curl", "-sS", PROTOCOLS[protocol], "-X", "POST", "-D", "-", "-o", "/dev/stdout",
            "--max-time", str(CURL_TIMEOUT_S), "--data-binary", "@-",
            "-H", "Host: graph.facebook.com", "-H", f"{E2E_ID_HEADER}: {e2e_id}",
            "-H", "authorization: Bearer EAAe2eTestToken", "-H", "Expect:", "-H", f"content-type: {content_type}",
            f"http://127.0.0.1:{guard.port}{path.format(id=path_id)}"]
    out = subprocess.run(args, input=body, capture_output=True, timeout=CURL_TIMEOUT_S + 5).stdout
    head, _, data = out.partition(b"\r\n\r\n")
    status = re.match(rb"HTTP/[\d.]+ (\d{3})", head)
    return Sent(e2e_id, path_id, int(status.group(1)) if status else None, data)


ACCESS = re.compile(r"^\[access\] POST \S+ (?P<code>\d{3}) \S+ decision=(?P<decision>\S+) rule=(?P<rule>\S+) "
                    r"upstream=\S+ route=(?P<route>\S+)$")


def access_entry(guard: GuardedEnvoy, sent: Sent) -> dict[str, str]:
    """The access log line of `sent` (bounded wait: the log is flushed every 100 ms)."""
    found: list[dict[str, str]] = []

    def check() -> bool:
        lines = guard.process.stdout_path.read_text(errors="replace").splitlines()
        found[:] = [m.groupdict() for line in lines if f"/{sent.path_id}" in line and (m := ACCESS.match(line))]
        return bool(found)

    wait_until(check, timeout=5, what=f"the access log line of /{sent.path_id}")
    [entry] = found
    return entry


def outcome(guard: GuardedEnvoy, protocol: str, sent: Sent) -> dict[str, str]:
    entry = access_entry(guard, sent)
    if protocol == "http1" or sent.curl_status is not None:
        assert sent.curl_status == int(entry["code"]), (sent, entry)
    return entry


def upstream_records(guard: GuardedEnvoy, sent: Sent) -> list[dict]:
    guard.settle()
    return [r for r in guard.upstream.received() if stand_in.record_header(r, E2E_ID_HEADER) == sent.e2e_id]


def assert_no_body_upstream(guard: GuardedEnvoy, sent: Sent) -> None:
    """Headers may have gone upstream (the media route is not buffered); no request completed and
    no body byte was recorded."""
    for record in upstream_records(guard, sent):
        assert not record["complete"] and record["body_len"] == 0, record


def assert_forwarded_whole(guard: GuardedEnvoy, sent: Sent, body: bytes) -> None:
    [record] = upstream_records(guard, sent)
    assert record["complete"], record
    assert record["body_len"] == len(body)
    assert record["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert stand_in.record_body(record) == body


# --- bodies --------------------------------------------------------------------------------

BOUNDARY = "b0undary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
MEDIA_PATH = "/v21.0/{id}/media"


def multipart(parts: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for headers, content in parts:
        out += f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def field(name: str, value: str) -> tuple[str, bytes]:
    return f'Content-Disposition: form-data; name="{name}"', value.encode()


def file_part(filename: str, content_type: str, content: bytes) -> tuple[str, bytes]:
    return f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\nContent-Type: {content_type}', content


def jpeg(size: int) -> bytes:
    """JPEG magic and random bytes (random bytes never contain the boundary in practice)."""
    data = b"\xff\xd8\xff\xe0" + os.urandom(size)
    assert BOUNDARY.encode() not in data
    return data


def image_upload(size: int) -> bytes:
    return multipart([field("messaging_product", "whatsapp"), field("type", "image/jpeg"),
                      file_part("photo.jpg", "image/jpeg", jpeg(size))])


def text_upload(size: int) -> bytes:
    """A text/plain document whose every line is an assistant's answer."""
    text = "\n".join([ASSISTANT_ANSWER] * (size // len(ASSISTANT_ANSWER) + 1)).encode()
    return multipart([field("messaging_product", "whatsapp"), field("type", "text/plain"),
                      file_part("answer.txt", "text/plain", text)])


def buffer_filter_limit(guard_limit: int) -> int:
    return launch.buffer_limit_for(json.dumps(policy_with_limit(guard_limit)))


# --- large binary media streams --------------------------------------------------------------


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@pytest.mark.parametrize("size", [300_000, 6_000_000], ids=["300KB", "6MB"])
def test_a_large_image_upload_is_forwarded_whole(guard, protocol, size):
    body = image_upload(size)
    assert len(body) > buffer_filter_limit(SMALL_LIMIT), "the buffer filter would have refused it"
    sent = curl(guard, protocol, MEDIA_PATH, body, MULTIPART)
    entry = outcome(guard, protocol, sent)
    assert (entry["code"], entry["decision"], entry["route"]) == ("200", "allow", MEDIA_ROUTE), entry
    assert_forwarded_whole(guard, sent, body)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_an_image_larger_than_the_limit_plus_a_1mib_read_is_forwarded_whole(wide_guard, protocol):
    """With limits.max_body_bytes above Envoy's default per-connection buffer limit the guard
    holds up to 2 MB before it lets the image stream; over HTTP/1.1 a single read hands it up to
    1 MiB at once. Only the route's request_body_buffer_limit (limit + 4 KiB + 1 MiB) lets both
    through without a 413."""
    body = image_upload(6_000_000)
    sent = curl(wide_guard, protocol, MEDIA_PATH, body, MULTIPART)
    entry = outcome(wide_guard, protocol, sent)
    assert (entry["code"], entry["decision"], entry["route"]) == ("200", "allow", MEDIA_ROUTE), entry
    assert_forwarded_whole(wide_guard, sent, body)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_text_file_above_envoys_default_buffer_is_still_read_whole(wide_guard, protocol):
    """1.5 MB of text under a 2 MB limit: the guard reads all of it (content_classifier), Envoy
    does not cut it off at its default 1 MiB."""
    body = text_upload(1_500_000)
    assert 1 << 20 < len(body) < WIDE_LIMIT
    sent = curl(wide_guard, protocol, MEDIA_PATH, body, MULTIPART)
    entry = outcome(wide_guard, protocol, sent)
    assert (entry["code"], entry["rule"], entry["route"]) == ("403", "content_classifier", MEDIA_ROUTE), entry
    assert_no_body_upstream(wide_guard, sent)


# --- what the guard must read is still read ----------------------------------------------------


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_large_text_file_is_refused(guard, protocol):
    """A text-like file is never watched: above the limit the guard refuses it (rule body_limit,
    its 403), before any body byte goes upstream."""
    body = text_upload(100_000)
    assert len(body) > buffer_filter_limit(SMALL_LIMIT)
    sent = curl(guard, protocol, MEDIA_PATH, body, MULTIPART)
    entry = outcome(guard, protocol, sent)
    assert (entry["code"], entry["decision"], entry["rule"], entry["route"]) == \
        ("403", "block", "body_limit", MEDIA_ROUTE), entry
    assert_no_body_upstream(guard, sent)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_small_text_file_with_an_answer_is_blocked(guard, protocol):
    body = text_upload(2_000)
    assert len(body) < SMALL_LIMIT
    sent = curl(guard, protocol, MEDIA_PATH, body, MULTIPART)
    entry = outcome(guard, protocol, sent)
    assert (entry["code"], entry["rule"], entry["route"]) == ("403", "content_classifier", MEDIA_ROUTE), entry
    assert_no_body_upstream(guard, sent)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_text_part_after_a_streamed_image_refuses_the_upload(guard, protocol):
    """The image streams (3 MB: more than one read, so the text part comes in a later chunk);
    the text file after it refuses the upload, and the upstream, which has seen the start of
    it, never gets a complete request."""
    body = multipart([field("messaging_product", "whatsapp"), file_part("photo.jpg", "image/jpeg", jpeg(3_000_000)),
                      file_part("answer.txt", "text/plain", ASSISTANT_ANSWER.encode())])
    sent = curl(guard, protocol, MEDIA_PATH, body, MULTIPART)
    entry = outcome(guard, protocol, sent)
    assert (entry["code"], entry["rule"], entry["route"]) == ("403", "body_limit", MEDIA_ROUTE), entry
    records = upstream_records(guard, sent)
    assert records, "the image did not stream"
    assert not any(r["complete"] for r in records), records


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_small_image_upload_passes_byte_exact(guard, protocol):
    """Control: an ordinary upload under the limit on the same route."""
    body = image_upload(4_000)
    sent = curl(guard, protocol, MEDIA_PATH, body, MULTIPART)
    entry = outcome(guard, protocol, sent)
    assert (entry["code"], entry["route"]) == ("200", MEDIA_ROUTE), entry
    assert_forwarded_whole(guard, sent, body)


# --- a send posted to the media route ------------------------------------------------------------

ASSISTANT_SEND = json.dumps(text_message(ASSISTANT_ANSWER)).encode()

# Every spelling Envoy routes to the media route (after its normalize_path and merge_slashes).
MEDIA_ROUTE_PATHS = {
    "plain": "/v21.0/{id}/media",
    "trailing slash": "/v21.0/{id}/media/",
    "upper case": "/V21.0/{id}/MEDIA",
    "unversioned": "/{id}/media",
    "major version only": "/v21/{id}/media",
    "doubled slashes": "/v21.0//{id}//media",
    "query string": "/v21.0/{id}/media?access_token=x&to=16505550123&text%5Bbody%5D=hi",
    "encoded letter": "/v21.0/{id}/%6Dedia",
    "dot segments": "/v21.0/{id}/messages/../media",
    "encoded dot segments": "/v21.0/{id}/messages/%2E%2E/media",
}


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@pytest.mark.parametrize("variant", sorted(MEDIA_ROUTE_PATHS))
def test_a_send_on_the_media_route_is_read_and_blocked(guard, protocol, variant):
    sent = curl(guard, protocol, MEDIA_ROUTE_PATHS[variant], ASSISTANT_SEND, "application/json")
    entry = outcome(guard, protocol, sent)
    assert entry["route"] == MEDIA_ROUTE, f"{variant} did not reach the unbuffered route: {entry}"
    assert (entry["code"], entry["decision"]) == ("403", "block"), entry
    assert_no_body_upstream(guard, sent)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_large_send_on_the_media_route_is_refused(guard, protocol):
    """Not multipart, so never watched: above the limit it is refused, unread bytes never leave."""
    body = b"{" + b" " * 100_000 + ASSISTANT_SEND[1:]
    sent = curl(guard, protocol, MEDIA_PATH, body, "application/json")
    entry = outcome(guard, protocol, sent)
    assert (entry["code"], entry["rule"], entry["route"]) == ("403", "body_limit", MEDIA_ROUTE), entry
    assert_no_body_upstream(guard, sent)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_service_send_on_the_media_route_passes_byte_exact(guard, protocol):
    """Control: the guard lets a support text through on that route, unchanged."""
    body = json.dumps(text_message(SUPPORT_TEXT)).encode()
    sent = curl(guard, protocol, MEDIA_PATH, body, "application/json")
    entry = outcome(guard, protocol, sent)
    assert (entry["code"], entry["route"]) == ("200", MEDIA_ROUTE), entry
    assert_forwarded_whole(guard, sent, body)


# Paths that only look like the media edge stay on the buffered catch-all route: nothing of a
# blocked request, not even its headers, reaches the upstream there.
BUFFERED_PATHS = {
    "matrix parameter": "/v21.0/{id}/media;x=1",
    "encoded slashes in the id": "/v21.0/{id}%2Fmessages%2F..%2F/media",
    "encoded slashes after media": "/v21.0/{id}/media%2F..%2Fmessages",
    "encoded slash after a dot segment": "/v21.0/{id}/media/..%2Fmessages",
}


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@pytest.mark.parametrize("variant", sorted(BUFFERED_PATHS))
def test_a_path_that_only_looks_like_media_stays_buffered(guard, protocol, variant):
    sent = curl(guard, protocol, BUFFERED_PATHS[variant], ASSISTANT_SEND, "application/json")
    entry = outcome(guard, protocol, sent)
    assert entry["route"] != MEDIA_ROUTE, entry
    assert (entry["code"], entry["decision"]) == ("403", "block"), entry
    assert upstream_records(guard, sent) == [], "the buffered route let (part of) a blocked request out"
