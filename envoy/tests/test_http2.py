"""HTTP/2 end to end through a real Envoy, for both jobs, over h2c (prior knowledge) and over TLS
with ALPN `h2` (egress-mtls.yaml): request bodies in many DATA frames of chosen sizes (1-byte
frames around JSON escapes, inside UTF-8 characters, inside a gzip stream, at record
boundaries) and request trailers (a HEADERS frame with END_STREAM after the data, so no body
callback ever sees end_of_stream and the guard must decide in its trailers callback).

The client is h2_client.py (the `h2` library), because curl can neither send request trailers
nor choose DATA framing. What reaches the upstream is read from the HTTP/1.1 stand-in, and, for
request trailers, from an HTTP/2 upstream (h2_upstream.py) behind a copy of egress.yaml whose
WhatsApp and training clusters speak HTTP/2.

Request trailers, measured on Envoy 1.40 with these bootstraps:
* HTTP/1.1 upstream (the bootstraps' clusters): Envoy drops them. On WhatsApp routes the buffer
  filter has set content-length, so the request is not chunked and cannot carry trailers; on
  training routes the body goes out chunked and ends with `0\\r\\n\\r\\n` (a raw recorder showed the
  trailers appear there only with `http_protocol_options.enable_trailers: true` on the cluster,
  which the bootstraps do not set). The request completes and the body is byte-exact.
* HTTP/2 upstream: the trailers arrive unchanged, after the (stripped) body.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import yaml

import h2_client
from e2e_data import ASSISTANT_ANSWER, SUPPORT_IDENTITY, SUPPORT_TEXT, e2e_policy, text_message
from e2e_support import (
    E2E_ID_HEADER,
    GRAPH_PATH,
    IDENTITY_HEADER,
    OTHER_GRAPH_PATH,
    GuardedEnvoy,
    certs_module,
    client_tls,
    gzip_bytes,
    stand_in,
)
from h2_client import H2Reply, H2Request, frames_cut_at, frames_of_size, one_byte_frames_around
from h2_upstream import H2StandIn
from test_training_upload import BOUNDARY, multipart, training_section

TRANSPORTS = ["h2c", "tls"]
CALLER = "spiffe://cluster.local/ns/orders/sa/notifier"  # the TLS client's certificate; no rule names it
TRAILERS = [("x-upload-checksum", "sha256-3f1c0b"), ("x-e2e-trailer", "last")]
TRAILER_IDS = {False: "no-trailers", True: "trailers"}
UPLOAD_PATH = "/v1/files"
UPLOAD_HOST = "api.openai.com"


def policy() -> dict[str, Any]:
    return e2e_policy(training=training_section())


# --- guards ----------------------------------------------------------------------------------
@dataclass
class H2Guard:
    """A guarded Envoy reached over HTTP/2 (h2c, or TLS with ALPN h2)."""

    envoy: GuardedEnvoy
    tls: ssl.SSLContext | None

    def send(self, request: H2Request, **kwargs: Any) -> H2Reply:
        reply = h2_client.exchange(self.envoy.port, request, tls=self.tls, e2e_id_header=E2E_ID_HEADER, **kwargs)
        if self.tls is not None:
            assert reply.alpn == "h2", f"the TLS listener negotiated {reply.alpn!r}, not h2"
        return reply

    def received(self, reply: H2Reply) -> list[dict[str, Any]]:
        return self.envoy.received(reply)  # matched by the x-e2e-id header


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return certs_module().make_pki(tmp_path_factory.mktemp("h2-pki"), {"caller": CALLER})


@pytest.fixture(scope="module")
def guards(start_guard, pki) -> dict[str, H2Guard]:
    caller = pki.clients["caller"]
    plain = start_guard(policy(), name="h2c")
    tls = start_guard(
        policy(),
        name="h2-tls",
        template="egress-mtls.yaml",
        extra={"TLS_CERT": pki.server.cert, "TLS_KEY": pki.server.key, "TLS_CA": pki.ca.cert},
        tls=client_tls(pki.ca.cert, caller.cert, caller.key),  # HTTP/1.1, for settle()
    )
    return {
        "h2c": H2Guard(plain, None),
        "tls": H2Guard(tls, h2_client.tls_context(pki.ca.cert, caller.cert, caller.key)),
    }


@pytest.fixture(params=TRANSPORTS)
def guard(request, guards) -> H2Guard:
    return guards[request.param]


# --- bodies and framings ---------------------------------------------------------------------
def escapes(body: bytes) -> list[int]:
    return [i for i, b in enumerate(body) if b == ord("\\")]


def inside_utf8_characters(body: bytes) -> list[int]:
    """Offsets of UTF-8 continuation bytes: a frame cut there splits a character."""
    return [i for i, b in enumerate(body) if b & 0xC0 == 0x80]


def record_ends(body: bytes) -> list[int]:
    return [i + 1 for i, b in enumerate(body) if b == ord("\n")]


def gzip_landmarks(body: bytes) -> list[int]:
    """The gzip header, the middle of the deflate stream and the CRC32/ISIZE trailer."""
    return [4, len(body) // 2, len(body) - 6]


def send_request(body: bytes, frames: list[bytes], *, gzip_encoded: bool, trailers: bool, path: str = OTHER_GRAPH_PATH,
                 headers: list[tuple[str, str]] | None = None) -> H2Request:
    assert b"".join(frames) == body
    all_headers = [("content-type", "application/json"), ("authorization", "Bearer EAAe2eTestToken"), *(headers or [])]
    if gzip_encoded:
        all_headers.append(("content-encoding", "gzip"))
    return H2Request("POST", "graph.facebook.com", path, all_headers, frames, TRAILERS if trailers else None)


def upload_request(body: bytes, frames: list[bytes], *, gzip_encoded: bool, trailers: bool) -> H2Request:
    assert b"".join(frames) == body
    headers = [("content-type", "application/jsonl"), ("authorization", "Bearer sk-e2e")]
    if gzip_encoded:
        headers.append(("content-encoding", "gzip"))
    return H2Request("POST", UPLOAD_HOST, UPLOAD_PATH, headers, frames, TRAILERS if trailers else None)


# The assistant's answer as a send, with typographic apostrophes and bullets, so that the JSON (not
# ASCII-escaped) holds 3-byte UTF-8 characters next to its `\n` escapes.
ASSISTANT_SEND = json.dumps(text_message(ASSISTANT_ANSWER.replace("'", "\u2019").replace("\n- ", "\n\u2022 ")),
                            ensure_ascii=False).encode()
SERVICE_SEND = json.dumps(text_message(SUPPORT_TEXT.replace("Hi Dana", "Olá Dana ✓")), ensure_ascii=False).encode()

SEND_FRAMINGS: dict[str, Callable[[bytes, bool], list[bytes]]] = {
    # Plain: 1-byte frames for 3 bytes either side of every JSON escape; gzip: around the landmarks.
    "1-byte frames at escapes or gzip landmarks": lambda body, gz: one_byte_frames_around(
        body, gzip_landmarks(body) if gz else escapes(body), radius=3, rest=48),
    "cut inside every UTF-8 character": lambda body, gz: frames_cut_at(
        body, [*range(29, len(body), 29), *([] if gz else inside_utf8_characters(body))]),
    "7-byte frames": lambda body, gz: frames_of_size(body, 7),
}


def assert_graph_403(reply: H2Reply, rule: str) -> dict[str, Any]:
    assert reply.status == 403, str(reply)
    assert reply.header("content-type") == "application/json"
    assert reply.header_values("x-wa-guard-decision") == ["block"], str(reply)
    assert reply.header_values("x-wa-guard-rule") == [rule], str(reply)
    error = reply.json()["error"]
    assert (error["type"], error["code"]) == ("OAuthException", 10)
    assert rule in error["message"]
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error


def trailer_names() -> set[str]:
    return {name for name, _ in TRAILERS}


# --- the TLS listener speaks h2 by ALPN --------------------------------------------------------
@pytest.mark.parametrize("offer, expected", [(["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")],
                         ids=["offers-h2-and-http1", "offers-http1-only"])
def test_tls_listener_negotiates_by_alpn(guards, pki, offer, expected):
    """Production clients pick HTTP/2 by ALPN; one that offers only HTTP/1.1 still gets it."""
    caller = pki.clients["caller"]
    context = client_tls(pki.ca.cert, caller.cert, caller.key)
    context.set_alpn_protocols(offer)
    with socket.create_connection(("127.0.0.1", guards["tls"].envoy.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            assert conn.selected_alpn_protocol() == expected


# --- job 1: WhatsApp sends -------------------------------------------------------------------
@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
@pytest.mark.parametrize("gzip_encoded", [False, True], ids=["identity", "gzip"])
@pytest.mark.parametrize("framing", sorted(SEND_FRAMINGS))
def test_assistant_send_in_many_frames_is_blocked_and_never_leaves(guard, framing, gzip_encoded, trailers):
    body = gzip_bytes(ASSISTANT_SEND) if gzip_encoded else ASSISTANT_SEND
    frames = SEND_FRAMINGS[framing](body, gzip_encoded)
    assert len(frames) > 20
    before = guard.envoy.stat("cluster.whatsapp_upstream.upstream_rq_total")

    reply = guard.send(send_request(body, frames, gzip_encoded=gzip_encoded, trailers=trailers))

    error = assert_graph_403(reply, "content_classifier")
    # The guard waited for the end of the stream: every frame (and the trailers) went out first.
    assert (reply.frames_sent, reply.trailers_sent) == (len(frames), trailers), str(reply)
    entry = guard.envoy.wait_for_decision_log(lambda e: e.get("request_id") == error["fbtrace_id"])
    assert (entry["decision"], entry["reason"]) == ("block", "general_assistant_content")
    guard.envoy.settle()
    assert guard.received(reply) == [], "the stand-in saw (part of) a blocked send"
    assert guard.envoy.stat("cluster.whatsapp_upstream.upstream_rq_total") == before


@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
@pytest.mark.parametrize("gzip_encoded", [False, True], ids=["identity", "gzip"])
def test_service_send_in_many_frames_is_forwarded_byte_exact(guard, gzip_encoded, trailers):
    body = gzip_bytes(SERVICE_SEND) if gzip_encoded else SERVICE_SEND
    frames = frames_cut_at(body, range(3, len(body), 3)) if gzip_encoded else frames_cut_at(
        body, [*inside_utf8_characters(body), *range(5, len(body), 5)])

    reply = guard.send(send_request(body, frames, gzip_encoded=gzip_encoded, trailers=trailers, path=GRAPH_PATH,
                                    headers=[(IDENTITY_HEADER, SUPPORT_IDENTITY)]))

    assert reply.status == 200, str(reply)
    assert reply.header_values("x-wa-guard-decision") == ["allow"], str(reply)
    assert reply.header_values("x-wa-guard-rule") == ["support-bots"], str(reply)
    assert reply.json()["messages"][0]["id"].startswith("wamid.")
    [record] = guard.received(reply)
    assert record["complete"] and record["error"] is None, record
    assert stand_in.record_body(record) == body
    # The buffer filter on WhatsApp routes frames the whole body with content-length; an HTTP/1.1
    # request so framed has no place for trailers, and Envoy drops them (they do not become headers).
    assert not record["chunked"]
    assert stand_in.record_header(record, "content-length") == str(len(body))
    assert not trailer_names() & {k.lower() for k, _ in record["headers"]}


# --- job 2: training uploads -----------------------------------------------------------------
def utf8_chat(i: int, **extra: Any) -> bytes:
    """A fine-tuning record whose text holds 2-, 3- and 4-byte UTF-8 characters."""
    record = {"messages": [
        {"role": "user", "content": f"¿Dónde está el paquete A-{i:05d}? 📦"},
        {"role": "assistant", "content": f"El paquete A-{i:05d} está en el depósito — sale mañana ✅"},
    ]}
    record.update(extra)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


WHATSAPP_MARKS = [
    lambda i: {"source_message_id": f"wamid.HBgLMTU1NTAxMjM0NTY3FQIAEhgU{i:08d}QUJDREVGRzEyMzQA"},
    lambda i: {"metadata": {"channel": "whatsapp", "ticket": i}},
    lambda i: {"wa_id": f"15550100{i % 1000:03d}"},
]


def utf8_upload(n: int, whatsapp_every: int) -> tuple[bytes, bytes, int]:
    """(upload, the upload without its WhatsApp records, number of those records)"""
    full, clean, stripped = [], [], 0
    for i in range(n):
        if whatsapp_every and i % whatsapp_every == whatsapp_every - 1:
            full.append(utf8_chat(i, **WHATSAPP_MARKS[stripped % len(WHATSAPP_MARKS)](i)))
            stripped += 1
        else:
            line = utf8_chat(i)
            full.append(line)
            clean.append(line)
    return b"".join(full), b"".join(clean), stripped


UPLOAD_FRAMINGS: dict[str, Callable[[bytes, bool], list[bytes]]] = {
    "37-byte frames": lambda body, gz: frames_of_size(body, 37),
    # Plain: 1-byte frames for 2 bytes either side of every record end; gzip: around the landmarks.
    "1-byte frames at record ends or gzip landmarks": lambda body, gz: one_byte_frames_around(
        body, gzip_landmarks(body) if gz else record_ends(body), radius=2, rest=101),
}


def received_upload(guard: H2Guard, reply: H2Reply) -> bytes:
    [record] = guard.received(reply)
    assert record["complete"] and record["error"] is None, record
    # Inspected uploads go out identity-encoded: the guard forwards the bytes it decoded.
    assert stand_in.record_header(record, "content-encoding") is None
    assert not trailer_names() & {k.lower() for k, _ in record["headers"]}
    return stand_in.record_body(record)


def assert_stripped(reply: H2Reply, stripped: int, endpoint: str = "openai-files") -> None:
    assert reply.status == 200, str(reply)
    assert reply.header_values("x-wa-guard-decision") == ["strip" if stripped else "forward"], str(reply)
    assert reply.header_values("x-wa-guard-rule") == [endpoint], str(reply)
    assert reply.header_values("x-wa-guard-stripped") == [str(stripped)], str(reply)


@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
@pytest.mark.parametrize("gzip_encoded", [False, True], ids=["identity", "gzip"])
@pytest.mark.parametrize("framing", sorted(UPLOAD_FRAMINGS))
def test_upload_in_many_frames_loses_only_whatsapp_records(guard, framing, gzip_encoded, trailers):
    upload, clean, stripped = utf8_upload(24, whatsapp_every=4)
    body = gzip_bytes(upload) if gzip_encoded else upload
    frames = UPLOAD_FRAMINGS[framing](body, gzip_encoded)

    reply = guard.send(upload_request(body, frames, gzip_encoded=gzip_encoded, trailers=trailers))

    assert_stripped(reply, stripped)
    assert (reply.frames_sent, reply.trailers_sent) == (len(frames), trailers)
    assert received_upload(guard, reply) == clean  # every other line byte-exact, in order


@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
@pytest.mark.parametrize("gzip_encoded", [False, True], ids=["identity", "gzip"])
def test_clean_upload_in_many_frames_arrives_byte_exact(guard, gzip_encoded, trailers):
    upload, clean, stripped = utf8_upload(16, whatsapp_every=0)
    assert (clean, stripped) == (upload, 0)
    body = gzip_bytes(upload) if gzip_encoded else upload
    frames = frames_of_size(body, 11)

    reply = guard.send(upload_request(body, frames, gzip_encoded=gzip_encoded, trailers=trailers))

    assert_stripped(reply, 0)
    # The guard decodes a gzip upload to inspect it and forwards what it read, identity-encoded,
    # even when it strips nothing.
    assert received_upload(guard, reply) == upload


@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
def test_frames_ending_exactly_at_record_boundaries(guard, trailers):
    """One record per DATA frame: the stripper never holds a partial line between frames."""
    upload, clean, stripped = utf8_upload(18, whatsapp_every=3)
    frames = frames_cut_at(upload, record_ends(upload))
    assert all(f.endswith(b"\n") for f in frames) and len(frames) == 18

    reply = guard.send(upload_request(upload, frames, gzip_encoded=False, trailers=trailers), frame_gap_s=0.002)

    assert_stripped(reply, stripped)
    assert received_upload(guard, reply) == clean


@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
def test_records_split_across_frames_inside_utf8_characters(guard, trailers):
    """Every frame boundary falls inside a multi-byte character (and so inside a record)."""
    upload, clean, stripped = utf8_upload(12, whatsapp_every=3)
    frames = frames_cut_at(upload, inside_utf8_characters(upload))
    assert len(frames) > 100
    assert all(not f.endswith(b"\n") for f in frames[:-1])

    reply = guard.send(upload_request(upload, frames, gzip_encoded=False, trailers=trailers), frame_gap_s=0.001)

    assert_stripped(reply, stripped)
    body = received_upload(guard, reply)
    assert body == clean
    body.decode("utf-8")  # no character was cut or changed on the way


@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
@pytest.mark.parametrize("gzip_encoded", [False, True], ids=["identity", "gzip"])
@pytest.mark.parametrize("whatsapp_tail", [False, True], ids=["clean-tail", "whatsapp-tail"])
def test_upload_without_final_newline(guard, whatsapp_tail, gzip_encoded, trailers):
    """The last record has no `\\n`: the stripper holds it until the stream ends, which with
    trailers is the trailers callback. There a clean record must still go out, and a WhatsApp
    record be dropped."""
    upload, clean, stripped = utf8_upload(9, whatsapp_every=4)
    tail = (utf8_chat(99, **WHATSAPP_MARKS[0](99)) if whatsapp_tail else utf8_chat(99)).rstrip(b"\n")
    upload = upload + tail
    clean, stripped = (clean, stripped + 1) if whatsapp_tail else (clean + tail, stripped)
    body = gzip_bytes(upload) if gzip_encoded else upload
    frames = frames_of_size(body, 53)

    reply = guard.send(upload_request(body, frames, gzip_encoded=gzip_encoded, trailers=trailers))

    assert_stripped(reply, stripped)
    assert received_upload(guard, reply) == clean


@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
def test_upload_of_only_whatsapp_records_is_refused_and_no_record_leaves(guard, trailers):
    upload = b"".join(utf8_chat(i, **WHATSAPP_MARKS[i % 3](i)) for i in range(6))
    frames = frames_of_size(upload, 41)

    reply = guard.send(upload_request(upload, frames, gzip_encoded=False, trailers=trailers))

    assert reply.status == 403, str(reply)
    assert reply.header_values("x-wa-guard-decision") == ["block"], str(reply)
    assert reply.header_values("x-wa-guard-rule") == ["openai-files"], str(reply)
    assert reply.json()["error"]["code"] == "all_records_whatsapp"
    guard.envoy.settle()
    for record in guard.received(reply):  # headers may have gone (streaming route); records never
        assert stand_in.record_body(record) == b"", record


@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
def test_multipart_upload_in_many_frames_keeps_its_framing(guard, trailers):
    """OpenAI's /v1/files as multipart/form-data, cut inside characters: the parts keep their
    framing and only the WhatsApp records go."""
    upload, clean, stripped = utf8_upload(12, whatsapp_every=4)
    body = multipart(upload)
    frames = frames_cut_at(body, [*inside_utf8_characters(body), *range(43, len(body), 43)])
    request = H2Request("POST", UPLOAD_HOST, UPLOAD_PATH,
                        [("content-type", f"multipart/form-data; boundary={BOUNDARY}")], frames,
                        TRAILERS if trailers else None)

    reply = guard.send(request)

    assert_stripped(reply, stripped)
    assert received_upload(guard, reply) == multipart(clean)


def gemini_tuning_request(whatsapp_example: bool) -> bytes:
    examples = [{"text_input": f"¿Dónde está A-{i:05d}?", "output": f"En el depósito, sale mañana ✅ ({i})"}
                for i in range(6)]
    if whatsapp_example:
        examples.insert(3, {"text_input": "hola", "output": "ok", "wa_id": "15550100123"})
    document = {"display_name": "parcel-helper", "base_model": "models/gemini-1.5-flash-001-tuning",
                "tuning_task": {"training_data": {"examples": {"examples": examples}}}}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


FINE_TUNING_JOB = json.dumps({"training_file": "file-abc123", "model": "gpt-4o-mini-2024-07-18",
                              "suffix": "parcels"}).encode()
JSON_DOCUMENTS = {
    # (host, path, body, what must arrive, records stripped, endpoint id)
    "gemini tuned model, one WhatsApp example": (
        "generativelanguage.googleapis.com", "/v1beta/tunedModels", gemini_tuning_request(True),
        gemini_tuning_request(False), 1, "gemini-tuned-models"),
    "openai fine-tuning job": (
        "api.openai.com", "/v1/fine_tuning/jobs", FINE_TUNING_JOB, FINE_TUNING_JOB, 0, "openai-fine-tuning"),
}


@pytest.mark.parametrize("trailers", [False, True], ids=TRAILER_IDS.get)
@pytest.mark.parametrize("document", sorted(JSON_DOCUMENTS))
def test_json_document_in_many_frames(guard, document, trailers):
    """A training request that is one JSON document is held whole until the stream ends; with
    trailers, that is the trailers callback, where the guard must still forward it."""
    host, path, body, expected, stripped, endpoint = JSON_DOCUMENTS[document]
    frames = frames_cut_at(body, [*inside_utf8_characters(body), *range(17, len(body), 17)])
    request = H2Request("POST", host, path, [("content-type", "application/json")], frames,
                        TRAILERS if trailers else None)

    reply = guard.send(request)

    assert_stripped(reply, stripped, endpoint)
    assert received_upload(guard, reply) == expected


# --- request trailers to an HTTP/2 upstream --------------------------------------------------
H2_PROTOCOL_OPTIONS = {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "explicit_http_config": {"http2_protocol_options": {}},
    }
}
H2_CLUSTERS = ("whatsapp_upstream", "training_upstream")


@pytest.fixture(scope="module")
def h2_upstream():
    server = H2StandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def h2_upstream_guard(start_guard, render, h2_upstream) -> H2Guard:
    """egress.yaml as rendered for the suite, with the WhatsApp and training clusters pointed at
    the HTTP/2 upstream (other hosts, and so settle(), stay on the HTTP/1.1 stand-in)."""
    rendered = render(policy(), name="h2-upstream-base")
    bootstrap = yaml.safe_load(rendered.read_text(encoding="utf-8"))
    changed = 0
    for cluster in bootstrap["static_resources"]["clusters"]:
        if cluster["name"] in H2_CLUSTERS:
            [group] = cluster["load_assignment"]["endpoints"]
            [endpoint] = group["lb_endpoints"]
            endpoint["endpoint"]["address"]["socket_address"]["port_value"] = h2_upstream.port
            cluster["typed_extension_protocol_options"] = H2_PROTOCOL_OPTIONS
            changed += 1
    assert changed == len(H2_CLUSTERS), "egress.yaml's clusters changed shape"
    derived = rendered.with_name("h2-upstream.yaml")
    derived.write_text(yaml.safe_dump(bootstrap, sort_keys=False), encoding="utf-8")
    return H2Guard(start_guard(policy(), name="h2-upstream", template=str(derived)), None)


def h2_received(h2_upstream: H2StandIn, reply: H2Reply) -> list[dict[str, Any]]:
    return h2_upstream.received(E2E_ID_HEADER, reply.e2e_id)


def test_h2_upstream_receives_the_trailers_of_a_service_send(h2_upstream_guard, h2_upstream):
    frames = frames_cut_at(SERVICE_SEND, [*inside_utf8_characters(SERVICE_SEND), *range(4, len(SERVICE_SEND), 4)])
    reply = h2_upstream_guard.send(send_request(SERVICE_SEND, frames, gzip_encoded=False, trailers=True,
                                                path=GRAPH_PATH, headers=[(IDENTITY_HEADER, SUPPORT_IDENTITY)]))

    assert reply.status == 200, str(reply)
    assert reply.header_values("x-wa-guard-decision") == ["allow"], str(reply)
    [record] = h2_received(h2_upstream, reply)
    assert record["complete"]
    assert record["body"] == SERVICE_SEND
    assert record["trailers"] == TRAILERS


def test_h2_upstream_receives_a_stripped_upload_and_its_trailers(h2_upstream_guard, h2_upstream):
    upload, clean, stripped = utf8_upload(15, whatsapp_every=3)
    frames = frames_cut_at(upload, inside_utf8_characters(upload))
    reply = h2_upstream_guard.send(upload_request(upload, frames, gzip_encoded=False, trailers=True))

    assert_stripped(reply, stripped)
    [record] = h2_received(h2_upstream, reply)
    assert record["complete"]
    assert record["body"] == clean
    assert record["trailers"] == TRAILERS


def test_h2_upstream_never_sees_a_blocked_send(h2_upstream_guard, h2_upstream):
    frames = one_byte_frames_around(ASSISTANT_SEND, escapes(ASSISTANT_SEND), radius=2)
    reply = h2_upstream_guard.send(send_request(ASSISTANT_SEND, frames, gzip_encoded=False, trailers=True))

    assert_graph_403(reply, "content_classifier")
    h2_upstream_guard.envoy.settle()
    assert h2_received(h2_upstream, reply) == []


# --- the client helper ----------------------------------------------------------------------
def test_client_waits_for_flow_control_windows(h2_upstream):
    """The helper itself, straight against the HTTP/2 upstream (65,535-byte initial windows): a
    body four times the window goes out only as WINDOW_UPDATEs arrive, and arrives whole."""
    body = bytes(range(256)) * 1024
    reply = h2_client.exchange(h2_upstream.port, H2Request("POST", "upstream.test", "/flow", [],
                                                           frames_of_size(body, 16384), TRAILERS),
                               e2e_id_header=E2E_ID_HEADER)

    assert reply.status == 200, str(reply)
    [record] = h2_received(h2_upstream, reply)
    assert (record["body"], record["trailers"], record["complete"]) == (body, TRAILERS, True)
