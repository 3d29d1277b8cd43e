#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpus from the project's own policy cases.

Every request in policies/tests/*.json becomes a seed for the targets that read its kind of
body, prefixed with the selector bytes that make the target send it the same way (the same
edge, content type, encoding). The seeds are written to filter/fuzz/seeds/<target>/ under the
SHA-1 of their content, so a rerun is stable and the committed corpus only changes when the
cases do. Usage: python3 filter/fuzz/seeds.py
"""

import base64
import gzip
import hashlib
import json
import pathlib
import re
import shutil
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = pathlib.Path(__file__).resolve().parent / "seeds"
MAX_SEED = 8 * 1024
PER_TARGET = 250

# Must match the selector tables in fuzz_targets/*.rs.
SEND_PATHS = ["messages", "media", "marketing_messages", "message_templates", "flows"]
SEND_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b"]
PROVIDER_ROUTES = {"api.twilio.com": 0, "api.dublin.ie1.twilio.com": 1, "conversations.twilio.com": 2, "api.nexmo.com": 3,
                   "infobip": 4, "waba-v2.360dialog.io": 8, "api.bird.com": 9, "eu1.platform.bird.com": 10,
                   "conversations.messagebird.com": 11, "api.gupshup.io": 12, "partner.gupshup.io": 13,
                   "eu.conversation.api.sinch.com": 14, "us.conversation.api.sinch.com": 14,
                   "social-messaging.eu-west-1.amazonaws.com": 15, "social-messaging.us-east-1.api.aws": 15}
PROVIDER_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]
# (authority, path prefix) of fuzz_targets/training_object.rs, and its methods.
OBJECT_ROUTES = [("acme-bedrock-tuning.s3.us-east-1.amazonaws.com", "/datasets/"),
                 ("s3.eu-west-1.amazonaws.com", "/acme-bedrock-tuning/datasets/"),
                 ("acme-bedrock-tuning.s3.amazonaws.com", "/"),
                 ("s3.dualstack.us-east-1.amazonaws.com", "/acme-bedrock-tuning/"),
                 ("storage.googleapis.com", "/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=media&name="),
                 ("storage.googleapis.com", "/acme-vertex-tuning/"),
                 ("acme-vertex-tuning.storage.googleapis.com", "/"),
                 ("acmeaitraining.blob.core.windows.net", "/finetune/"),
                 ("minio.data.acme.internal", "/datasets/"),
                 ("someone-else.s3.amazonaws.com", "/")]
OBJECT_METHODS = ["PUT", "POST"]
UPLOAD_TYPES = {"application/jsonl": 0, "application/json": 1, "application/x-ndjson": 4, "text/plain": 5, "text/csv": 6}


def body_of(req):
    if "body" in req:
        return json.dumps(req["body"], separators=(",", ":"), ensure_ascii=False).encode()
    if "body_text" in req:
        return req["body_text"].encode()
    if "body_base64" in req:
        return base64.b64decode(req["body_base64"])
    return b""


def content_type(req):
    headers = {k.lower(): v for k, v in req.get("headers", {}).items()}
    ct = headers.get("content-type")
    if ct is None and "body" in req:
        ct = "application/json"
    return (ct or "").strip()


def encoding_selector(req, table):
    enc = req.get("encode")
    return (table.index(enc), 1) if enc in table else (0, 0)


def seeds():
    out = {t: [] for t in ["whatsapp_send", "whatsapp_path", "whatsapp_form", "whatsapp_multipart",
                           "training_upload", "training_file", "policy_compile", "provider_send",
                           "training_object"]}
    for path in sorted((ROOT / "policies").glob("**/*.json")):
        if path.name == "policy.schema.json":
            continue
        doc = json.loads(path.read_text())
        if "cases" not in doc:
            out["policy_compile"].append(path.read_bytes())
            continue
        for case in doc["cases"]:
            req = case["request"]
            authority = req.get("authority", "graph.facebook.com")
            method = req.get("method", "POST")
            out["whatsapp_path"].append(f"{method}\n{authority}\n{req['path']}".encode())
            body = body_of(req)
            if not body or len(body) > MAX_SEED:
                continue
            ct = content_type(req)
            mime = ct.split(";")[0].strip().lower()
            if path.name.startswith("training_buckets"):
                # Each object body under each addressing style in turn, the key from the case.
                r = len(out["training_object"]) % len(OBJECT_ROUTES)
                key = req["path"].rsplit("/", 1)[-1].encode()[:31]
                m = OBJECT_METHODS.index(method) if method in OBJECT_METHODS else 0
                out["training_object"].append(bytes([r, m, 0, 0, len(key)]) + key + body)
            host = authority.split(":")[0].lower()
            route = PROVIDER_ROUTES.get("infobip" if host.endswith("api.infobip.com") else host)
            if route is not None:
                t = PROVIDER_TYPES.index(ct) if ct in PROVIDER_TYPES else 0
                enc, compress = encoding_selector(req, ["", "gzip", "deflate"])
                out["provider_send"].append(bytes([route, t, enc, compress, 0, 0]) + body)
            if authority.startswith("graph.facebook.com"):
                edge = req["path"].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
                p = SEND_PATHS.index(edge) if edge in SEND_PATHS else 0
                t = next((i for i, c in enumerate(SEND_TYPES) if c == ct), 0)
                enc, compress = encoding_selector(req, ["", "gzip", "deflate"])
                out["whatsapp_send"].append(bytes([p, t, enc, compress, 0, 0]) + body)
                if mime == "application/x-www-form-urlencoded":
                    out["whatsapp_form"].append(body)
                if ct == "multipart/form-data; boundary=b":
                    out["whatsapp_multipart"].append(bytes([0, 0]) + body)
            elif "encode" not in req or req["encode"] in ("gzip", "deflate"):
                enc, compress = encoding_selector(req, ["", "gzip", "deflate"])
                if mime in UPLOAD_TYPES:
                    out["training_upload"].append(bytes([UPLOAD_TYPES[mime], enc, compress, 0]) + body)
                    # Each body as one of the file kinds, in turn.
                    f = len(out["training_file"]) % 7
                    out["training_file"].append(bytes([f, 0]) + body)
                elif ct == "multipart/form-data; boundary=b":
                    out["training_upload"].append(bytes([2, enc, compress, 0]) + body)
    # A few bodies arrive compressed as a client would send them, so the decoders start from
    # valid streams (a gzip member, a zlib stream) and mutate inward.
    for b in list(out["training_upload"])[:40]:
        plain = b[4:]
        out["training_upload"].append(bytes([0, 1, 0, 0]) + gzip.compress(plain, mtime=0))
        out["training_upload"].append(bytes([0, 2, 0, 0]) + zlib.compress(plain))
    return out


def main():
    for target, items in seeds().items():
        # Only the generated targets' folders are rebuilt: conversation_session's seeds are
        # written by hand.
        d = OUT / target
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        unique = {hashlib.sha1(b).hexdigest(): b for b in items}
        for name, b in sorted(unique.items())[:PER_TARGET]:
            (d / name).write_bytes(b)
        print(f"{target}: {min(len(unique), PER_TARGET)} seeds")


if __name__ == "__main__":
    main()
