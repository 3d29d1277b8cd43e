"""Helpers for the e2e suite: a guarded Envoy, a bounded HTTP client, parsers for
Prometheus lines and decision log lines."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import ssl
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ENVOY_DIR = Path(__file__).resolve().parent.parent
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
if str(ENVOY_DIR) not in sys.path:
    sys.path.insert(0, str(ENVOY_DIR))

import ecds  # noqa: E402
import launch  # noqa: E402
import stand_in  # noqa: E402

REQUEST_TIMEOUT_S = 10.0
PHONE_NUMBER_ID = "106540352242922"  # the support line in the e2e policy
OTHER_PHONE_NUMBER_ID = "109876543210987"  # a number no rule names (unknown: allow)
GRAPH_PATH = f"/v21.0/{PHONE_NUMBER_ID}/messages"
OTHER_GRAPH_PATH = f"/v21.0/{OTHER_PHONE_NUMBER_ID}/messages"
E2E_ID_HEADER = "x-e2e-id"
IDENTITY_HEADER = "x-wa-guard-identity"
DECISION_LOG_MARKER = "wa-egress-guard decision "


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    e2e_id: str

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class GuardedEnvoy:
    """An Envoy running the guard, its listener port and the shared stand-in."""

    process: launch.EnvoyProcess
    port: int
    upstream: stand_in.StandIn
    tls: ssl.SSLContext | None = None
    # What settle() sends: a request the listener passes to the stand-in untouched. The webhook
    # ingress route passes only its own host and prefix (a verification handshake there).
    barrier: tuple[str, str] = ("barrier.example", "/__barrier")

    # --- requests -------------------------------------------------------------------
    def request(
        self,
        method: str,
        host: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        *,
        source_ip: str = "127.0.0.1",
        chunked: bool = False,
        first_chunk: int | None = None,
        chunk_pause_s: float = 0.0,
        tls: ssl.SSLContext | None = None,
    ) -> Reply:
        """One request on a fresh connection. `chunked`: the body goes out in three chunks, or,
        with `first_chunk`, in a chunk of that size, a pause of `chunk_pause_s`, then the rest
        in one chunk written at once (a client ahead of the proxy)."""
        e2e_id = uuid.uuid4().hex
        if isinstance(body, dict):
            payload: bytes | None = json.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            payload = body.encode("utf-8")
        else:
            payload = body
        all_headers = {"Host": host, E2E_ID_HEADER: e2e_id}
        if payload is not None and not any(k.lower() == "content-type" for k in (headers or {})):
            all_headers["content-type"] = "application/json"
        all_headers.update(headers or {})
        context = tls or self.tls
        if context is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S, source_address=(source_ip, 0), context=context
            )
        else:
            conn = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S, source_address=(source_ip, 0)
            )
        try:
            if chunked and payload is not None:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for k, v in all_headers.items():
                    conn.putheader(k, v)
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                if first_chunk is None:
                    step = max(1, len(payload) // 3)
                    pieces = [payload[i : i + step] for i in range(0, len(payload), step)]
                else:
                    pieces = [payload[:first_chunk], payload[first_chunk:]]
                for index, piece in enumerate(pieces):
                    if index and chunk_pause_s:
                        time.sleep(chunk_pause_s)
                    conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                conn.send(b"0\r\n\r\n")
            else:
                conn.request(method, path, body=payload, headers=all_headers)
            resp = conn.getresponse()
            data = resp.read()
            reply_headers = {k.lower(): v for k, v in resp.getheaders()}
            return Reply(resp.status, reply_headers, data, e2e_id)
        finally:
            conn.close()

    def send_whatsapp(
        self,
        message: dict[str, Any] | bytes,
        *,
        identity: str | None = None,
        path: str = GRAPH_PATH,
        host: str = "graph.facebook.com",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Reply:
        all_headers = {"authorization": "Bearer EAAe2eTestToken"}
        if identity is not None:
            all_headers[IDENTITY_HEADER] = identity
        all_headers.update(headers or {})
        return self.request("POST", host, path, message, all_headers, **kwargs)

    # --- what the upstream saw --------------------------------------------------------
    def received(self, reply: Reply) -> list[dict[str, Any]]:
        return [r for r in self.upstream.received() if stand_in.record_header(r, E2E_ID_HEADER) == reply.e2e_id]

    def settle(self) -> None:
        """Barrier: a pass-through request must reach the stand-in, so anything Envoy sent
        upstream for an earlier request on this loopback has been sent too."""
        barrier = self.request("GET", *self.barrier)
        assert barrier.status == 200, barrier
        wait_until(lambda: bool(self.received(barrier)), timeout=5, what="barrier request at the stand-in")
        time.sleep(0.2)

    # --- Envoy's views -------------------------------------------------------------------
    def prometheus(self) -> str:
        return self.process.admin("/stats/prometheus")

    def stat(self, name: str) -> int:
        text = self.process.admin(f"/stats?filter=^{re.escape(name)}$")
        for line in text.splitlines():
            key, _, value = line.partition(": ")
            if key == name:
                return int(value)
        return 0

    def decision_counts(self) -> dict[tuple[str, str, str, str], int]:
        return prometheus_decisions(self.prometheus())

    def log_text(self) -> str:
        return self.process.log_text()

    def decision_logs(self) -> list[dict[str, Any]]:
        return decision_log_entries(self.log_text())

    def wait_for_decision_log(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def check() -> bool:
            found[:] = [e for e in self.decision_logs() if predicate(e)]
            return bool(found)

        wait_until(check, timeout=timeout, what="decision log line")
        return found[-1]


@dataclass
class DynamicGuard(GuardedEnvoy):
    """A guarded Envoy started from dynamic.yaml: the guard's config comes from `ecds_file`."""

    ecds_file: Path = Path()
    wasm: str = ""

    def push(self, policy: dict[str, Any] | str, *, wasm: str | None = None, timeout: float = 30.0) -> str:
        """Install a new ECDS resource and wait for Envoy's verdict: 'accepted' or 'rejected'."""
        text = policy if isinstance(policy, str) else json.dumps(policy, indent=2)
        outcome, _ = ecds.push_and_wait(self.ecds_file, self.process.admin_url, text, wasm or self.wasm,
                                        timeout=timeout)
        return outcome

    def ecds_counters(self) -> dict[str, int]:
        return ecds.counters(self.process.admin_url)

    def ecds_version(self) -> str:
        return ecds.version_text(self.process.admin_url)


PROM_DECISION = re.compile(r"^wa_guard_decisions_total\{(?P<labels>[^}]*)\}\s+(?P<value>\d+)\s*$")
PROM_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def prometheus_decisions(text: str) -> dict[tuple[str, str, str, str], int]:
    """`{(decision, rule, reason, role): count}` from /stats/prometheus."""
    out: dict[tuple[str, str, str, str], int] = {}
    for line in text.splitlines():
        m = PROM_DECISION.match(line)
        if not m:
            continue
        labels = dict(PROM_LABEL.findall(m.group("labels")))
        key = (labels.get("decision", ""), labels.get("rule", ""), labels.get("reason", ""), labels.get("role", ""))
        out[key] = int(m.group("value"))
    return out


PROM_SERIES = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>[^}]*)\}\s+(?P<value>\d+)\s*$")


def prometheus_series(text: str, prefix: str) -> list[tuple[str, dict[str, str], int]]:
    """`[(name, labels, value)]` of the labelled series whose name starts with `prefix`."""
    out = []
    for line in text.splitlines():
        m = PROM_SERIES.match(line)
        if m and m.group("name").startswith(prefix):
            out.append((m.group("name"), dict(PROM_LABEL.findall(m.group("labels"))), int(m.group("value"))))
    return out


def decision_log_entries(log_text: str) -> list[dict[str, Any]]:
    entries = []
    for line in log_text.splitlines():
        _, marker, rest = line.partition(DECISION_LOG_MARKER)
        if marker:
            entries.append(json.loads(rest))
    return entries


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def certs_module():
    import certs  # envoy/certs.py; imported lazily so the suite loads without openssl

    return certs


def client_tls(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A TLS client context that trusts `ca` and presents `cert` (if given)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
