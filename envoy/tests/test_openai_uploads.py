"""OpenAI Uploads through Envoy, driven by the official OpenAI Python SDK
(`client.uploads.upload_file_chunked`, which cuts the file every `part_size` bytes, inside
records, and sends the parts one after the other). The stand-in plays the Uploads API as it
behaves: `/complete` fails when the assembled size is not the size the Upload declared.

A clean file goes through byte for byte, whatever the cuts; a part that holds a WhatsApp
record, or completes one that started in the previous part, is refused with an error that names
the guard, and the upload never completes. Endpoints come from policies/default.json."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest

from e2e_data import e2e_policy
from test_training_upload import training_section

PART = 64 * 1024 + 7


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(e2e_policy(training=training_section()), name="openai-uploads")


@pytest.fixture
def client(guard):
    # Envoy is the client's HTTP proxy, as an egress proxy is (absolute-form requests).
    http = httpx2.Client(proxy=f"http://127.0.0.1:{guard.port}", timeout=30.0)
    with http:
        yield openai.OpenAI(api_key="sk-e2e-not-a-key", base_url="http://api.openai.com/v1",
                            http_client=http, max_retries=0)


def record(i: int) -> bytes:
    line = {"messages": [
        {"role": "system", "content": "Tu réponds aux questions sur les colis Northwind. 📦"},
        {"role": "user", "content": f"Où est le colis A-{i:05d} ? Ça fait une semaine…"},
        {"role": "assistant", "content": f"Le colis A-{i:05d} est au dépôt de Lyon et part demain."},
    ]}
    return json.dumps(line, ensure_ascii=False).encode() + b"\n"


WHATSAPP = json.dumps({
    "messages": [{"role": "user", "content": "hola, ¿tienen talla M?"},
                 {"role": "assistant", "content": "Sí, en azul y negro."}],
    "meta": {"message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="},
}, ensure_ascii=False).encode() + b"\n"


def clean_file(n: int) -> bytes:
    return b"".join(record(i) for i in range(n))


def upload(client, data: bytes):
    return client.uploads.upload_file_chunked(
        file=data, filename="train.jsonl", bytes=len(data), mime_type="text/jsonl",
        purpose="fine-tune", part_size=PART,
    )


def test_a_clean_file_in_many_parts_is_assembled_byte_for_byte(guard, client):
    data = clean_file(1500)
    assert len(data) > 4 * PART
    # Every cut falls inside a record (the records are far shorter than a part).
    assert all(data[k - 1:k] != b"\n" for k in range(PART, len(data), PART))
    done = upload(client, data)
    assert done.status == "completed"
    assert guard.upstream.uploads.assembled(done.id) == data


def test_a_file_without_a_final_newline_completes(guard, client):
    data = clean_file(400).rstrip(b"\n")
    done = upload(client, data)
    assert done.status == "completed"
    assert guard.upstream.uploads.assembled(done.id) == data


@pytest.mark.parametrize("where", ["inside a part", "across two parts", "at the end, no newline"])
def test_a_whatsapp_record_refuses_its_part_and_the_upload_never_completes(guard, client, where):
    before = clean_file(700)
    if where == "inside a part":
        # Between two records, well inside the second part.
        data = before[:PART + 100].rsplit(b"\n", 1)[0] + b"\n" + WHATSAPP + before[PART + 100:]
    elif where == "across two parts":
        # The record starts a few bytes before the second cut: the third part completes it.
        head = before[: 2 * PART - 20]
        head = head[: head.rindex(b"\n") + 1]
        head += b" " * (2 * PART - 20 - len(head))  # blanks between records are allowed
        data = head + WHATSAPP + before[len(head):]
        assert data.index(b"wamid") > 2 * PART - 20 and data.index(b"wamid") < 2 * PART + 200
    else:
        data = before + WHATSAPP.rstrip(b"\n")
    uploads_before = len(guard.upstream.uploads._uploads)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        upload(client, data)
    assert "wa-egress-guard" in str(refused.value)
    assert refused.value.body["code"] == "whatsapp_records_in_part"
    # The Upload was created, but none of this test's uploads was completed.
    created = list(guard.upstream.uploads._uploads.values())[uploads_before:]
    assert created and all(u["status"] == "pending" for u in created)


def test_complete_with_parts_out_of_order_is_refused(guard, client):
    data = clean_file(300)
    created = client.uploads.create(bytes=len(data), filename="t.jsonl", mime_type="text/jsonl",
                                    purpose="fine-tune")
    cut = len(data) // 2
    first = client.uploads.parts.create(upload_id=created.id, data=data[:cut])
    second = client.uploads.parts.create(upload_id=created.id, data=data[cut:])
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.uploads.complete(upload_id=created.id, part_ids=[second.id, first.id])
    assert refused.value.body["code"] == "upload_parts_out_of_order"
    done = client.uploads.complete(upload_id=created.id, part_ids=[first.id, second.id])
    assert done.status == "completed"
    assert guard.upstream.uploads.assembled(created.id) == data
