"""A generated WhatsApp workload for the inventory end-to-end test (issue 15).

Five senders, two of them general-purpose assistants, send text, template, interactive and
image messages from five phone-number-ids, in several languages; three training uploads carry
some WhatsApp-derived records. Every text here was written for this suite.

The workload is plain data: `workload()` lists every request with what the test expects the
audit policy (`base_policy()`) to decide, and `traffic_record()` writes a request in the JSON
request format `wa-guard explain` and `wa-guard replay` read, with the caller's identity as a
header and Envoy's `source.address`, so that a replay sees the caller Envoy saw.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
IDENTITY_HEADER = "x-wa-guard-identity"
TRUSTED_HOP_ADDRESS = "127.0.0.1"
THRESHOLD = 0.71

# Phone-number-ids (Graph ids, never phone numbers).
SUPPORT_LINE = "106540352242922"  # claimed by the base policy for support-bots
NOTICES_LINE = "109876543210987"  # billing and the clinic share it; no rule names it
CLINIC_LINE = "112233445566778"
ASSISTANT_LINE = "120034455667788"
CONNECTOR_LINE = "131000222333444"


@dataclass(frozen=True)
class Sender:
    key: str
    identity: str  # as the filter logs it
    identity_source: str  # "header" or "source_address"
    source_ip: str  # the loopback address the requests come from
    kind: str  # "service" or "assistant": what its messages are
    declared_role: str  # its role under the base policy: customer_service, general_assistant or unknown

    @property
    def header(self) -> dict[str, str]:
        return {IDENTITY_HEADER: self.identity} if self.identity_source == "header" else {}


SUPPORT = Sender("support", "spiffe://cluster.local/ns/support/sa/helpdesk", "header", "127.0.0.1",
                 "service", "customer_service")
BILLING = Sender("billing", "spiffe://cluster.local/ns/billing/sa/notifier", "header", "127.0.0.1",
                 "service", "unknown")
# No header: the filter falls through to the caller's address (identity source `source_address`).
CLINIC = Sender("clinic", "127.0.0.2", "source_address", "127.0.0.2", "service", "unknown")
CHATBOT = Sender("chatbot", "spiffe://cluster.local/ns/ai-lab/sa/chatbot", "header", "127.0.0.1",
                 "assistant", "general_assistant")
CONNECTOR = Sender("connector", "spiffe://cluster.local/ns/integrations/sa/wa-connector", "header", "127.0.0.1",
                   "assistant", "unknown")
SENDERS = (SUPPORT, BILLING, CLINIC, CHATBOT, CONNECTOR)


def base_policy(salt: str = "inventory-e2e-salt") -> dict[str, Any]:
    """The policy a rollout starts from: audit mode, allowed sends logged, and origins for two
    of the five senders only (the support bots and the AI lab)."""
    default = json.loads((POLICIES_DIR / "default.json").read_text(encoding="utf-8"))
    training = copy.deepcopy(default["training"])
    training.pop("mode", None)  # inherit the global audit mode: count what would be stripped
    return {
        "mode": "audit",
        "default_action": "allow",
        "whatsapp": {"hosts": ["graph.facebook.com"]},
        "identity": {"sources": [
            {"type": "header", "name": IDENTITY_HEADER,
             "trusted_peers": {"addresses": [f"{TRUSTED_HOP_ADDRESS}/32"]}},
            {"type": "source_address"},
        ]},
        "origins": [
            {"id": "support-bots", "identities": [{"glob": "spiffe://cluster.local/ns/support/sa/*"}],
             "role": "customer_service", "message_types": ["text", "template", "interactive"]},
            {"id": "assistant-lab", "identities": [{"regex": "^spiffe://cluster\\.local/ns/ai-lab/.*$"}],
             "role": "general_assistant"},
        ],
        "phone_numbers": {"unknown": "allow", "numbers": [
            {"id": "support-line", "path_ids": [SUPPORT_LINE], "purpose": "customer_service",
             "allowed_origins": ["support-bots"]},
        ]},
        "content": {"enabled": True, "threshold": THRESHOLD, "roles": ["unknown", "customer_service"]},
        "limits": {"max_body_bytes": 65536, "max_decompressed_bytes": 262144, "on_oversize": "block",
                   "on_invalid_body": "block", "on_unsupported_encoding": "block"},
        "log": {"recipient_hash_salt": salt, "log_allowed": True},
        "training": training,
    }


# --- texts -----------------------------------------------------------------------------
# Service messages: short, about one order, bill, parcel or appointment.
SERVICE_TEXTS = {
    "en": "Hi Maria, your order 48213 has shipped and should arrive on Thursday. You can track it under Orders in the app.",
    "es": "Hola Jorge, su cita con la doctora Ruiz queda confirmada para el martes 14 a las 10:30. Responda 1 para confirmar o 2 para cambiarla.",
    "de": "Guten Tag Frau Keller, Ihre Rechnung Nr. 2026-1187 über 84,90 EUR ist am 20. Dezember fällig. Sie können sie im Kundenportal bezahlen.",
    "fr": "Bonjour Luc, votre colis 7741 vous attend au point relais de la rue Victor Hugo jusqu'au 12 décembre.",
    "pt": "Olá Ana, a sua encomenda 55120 foi entregue hoje às 14h12. Obrigado pela sua compra!",
    "it": "Ciao Marco, il cambio gomme è fissato per venerdì alle 9:00 nella nostra officina di via Roma 18.",
}
SERVICE_CAPTIONS = {
    "en": "Your prescription for order 3391 is ready for pickup at the Elm Street pharmacy counter.",
    "es": "Adjuntamos el justificante de su visita del 3 de diciembre. Guárdelo para su aseguradora.",
}
SERVICE_BUTTON_BODIES = {
    "en": "Would you like to reschedule the delivery of parcel A-20931?",
    "de": "Möchten Sie die Zustellung Ihres Pakets A-20931 auf einen anderen Tag verschieben?",
}

# A general-purpose assistant's answers: open-domain, essay-shaped, self-describing.
ASSISTANT_TEXTS = {
    "en": (
        "Great question! As an AI assistant, I'm happy to explain how black holes form.\n\n"
        "**1. Stellar collapse**\nWhen a very massive star runs out of fuel, its core can no longer "
        "resist gravity and collapses within a fraction of a second.\n\n"
        "**2. The event horizon**\nOnce the matter is squeezed inside a critical radius, not even "
        "light can escape, which is why we call it black.\n\n"
        "**3. How we observe them**\nAstronomers watch the hot gas swirling around them and the "
        "gravitational waves from mergers.\n\nI hope this helps! Would you like me to explain "
        "Hawking radiation next, or is there anything else I can help you with?"
    ),
    "es": (
        "¡Claro! Como asistente de inteligencia artificial, puedo explicarte paso a paso qué es la "
        "inflación.\n\n**1. Definición**\nLa inflación es el aumento generalizado y sostenido de los "
        "precios de bienes y servicios en una economía durante un período de tiempo.\n\n"
        "**2. Causas principales**\n- Un exceso de demanda frente a la oferta.\n- El aumento de los "
        "costes de producción.\n- La expansión de la masa monetaria.\n\n**3. Consecuencias**\n"
        "Reduce el poder adquisitivo y afecta a los ahorros.\n\nEn resumen, los bancos centrales "
        "suben los tipos de interés para controlarla. ¿Quieres que te dé algunos ejemplos históricos?"
    ),
    "fr": (
        "Bien sûr ! En tant qu'assistant IA, voici un résumé de la Révolution française en quelques "
        "points clés.\n\n**1. Les causes**\nUne crise financière profonde, des inégalités entre les "
        "trois ordres et la diffusion des idées des Lumières.\n\n**2. Les grandes étapes**\n- 1789 : "
        "prise de la Bastille et Déclaration des droits de l'homme.\n- 1792 : proclamation de la "
        "République.\n- 1799 : coup d'État de Bonaparte.\n\n**3. L'héritage**\nLes principes de "
        "liberté et d'égalité ont inspiré de nombreux pays.\n\nN'hésitez pas si vous voulez que "
        "j'approfondisse un de ces points !"
    ),
    "de": (
        "Gerne! Als KI-Assistent erkläre ich dir gern, wie man einen einfachen Sauerteig ansetzt.\n\n"
        "**Schritt 1: Der Ansatz**\nVermische 50 g Roggenmehl mit 50 ml lauwarmem Wasser in einem "
        "sauberen Glas.\n\n**Schritt 2: Füttern**\nNimm fünf Tage lang jeden Tag die Hälfte weg und "
        "gib frisches Mehl und Wasser dazu.\n\n**Schritt 3: Backen**\nSobald sich der Teig in sechs "
        "Stunden verdoppelt, ist er bereit.\n\nZusammengefasst: Geduld ist wichtiger als teure "
        "Ausrüstung. Möchtest du auch ein Rezept für das erste Brot?"
    ),
    "it": (
        "Certo! Come assistente virtuale, ecco una breve spiegazione di come funziona la fotosintesi.\n\n"
        "**1. Cosa serve**\nLe piante usano la luce del sole, l'acqua e l'anidride carbonica.\n\n"
        "**2. Cosa succede**\nNei cloroplasti la clorofilla cattura l'energia luminosa e la "
        "trasforma in energia chimica, producendo glucosio.\n\n**3. Il risultato**\nCome "
        "sottoprodotto viene liberato ossigeno, essenziale per la vita sulla Terra.\n\n"
        "Spero che ti sia utile! Vuoi che ti spieghi anche il ciclo di Calvin?"
    ),
    "pt": (
        "Claro! Como assistente de inteligência artificial, posso ajudar você a entender a teoria da "
        "relatividade.\n\n**1. Relatividade restrita**\nEinstein mostrou em 1905 que a velocidade da "
        "luz é a mesma para todos os observadores e que o tempo passa de forma diferente para quem "
        "se move depressa.\n\n**2. Relatividade geral**\nDez anos depois, descreveu a gravidade como "
        "a curvatura do espaço-tempo causada pela massa.\n\n**3. No dia a dia**\nOs satélites de GPS "
        "corrigem essas diferenças de tempo.\n\nEspero ter ajudado! Quer que eu explique algum "
        "destes pontos com mais detalhe?"
    ),
}
ASSISTANT_CAPTION = (
    "Here is the diagram you asked for! As an AI assistant I drew the water cycle step by step: "
    "evaporation from the oceans, condensation into clouds, precipitation as rain or snow, and "
    "collection in rivers and lakes. Let me know if you would like me to explain any stage in more "
    "detail or write a short quiz about it for your class."
)


# --- messages --------------------------------------------------------------------------
def _recipient(n: int) -> str:
    return f"+1555010{n:04d}"


def text(body: str, n: int) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": _recipient(n),
            "type": "text", "text": {"preview_url": False, "body": body}}


def template(name: str, language: str, params: list[str], n: int) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": _recipient(n),
            "type": "template",
            "template": {"name": name, "language": {"code": language}, "components": [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]}}


def interactive(body: str, buttons: list[str], n: int) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": _recipient(n),
            "type": "interactive",
            "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": f"b{i}", "title": title}} for i, title in enumerate(buttons)]}}}


def image(caption: str, n: int) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": _recipient(n),
            "type": "image", "image": {"link": f"https://cdn.example.com/files/{n:04d}.jpg", "caption": caption}}


@dataclass(frozen=True)
class Send:
    id: str
    sender: Sender
    phone_number_id: str
    message_type: str
    body: dict[str, Any]
    template_name: str | None = None

    @property
    def path(self) -> str:
        return f"/v21.0/{self.phone_number_id}/messages"

    @property
    def expected_decision(self) -> str:
        """Under the audit base policy: the assistants' sends would be blocked, so `audit`."""
        return "audit" if self.sender.kind == "assistant" else "allow"

    @property
    def expected_rule(self) -> str:
        if self.sender is CHATBOT:
            return "assistant-lab"
        if self.sender is CONNECTOR:
            return "content_classifier"
        return "support-bots" if self.sender is SUPPORT else "no_rule"


@dataclass(frozen=True)
class Upload:
    id: str
    endpoint: str  # the policy's endpoint id
    authority: str
    path: str
    body: bytes
    records: int
    whatsapp_records: int
    clean_bytes: int  # the body's length without its WhatsApp records: what enforce forwards


@dataclass
class Workload:
    sends: list[Send] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)

    def sends_of(self, sender: Sender) -> list[Send]:
        return [s for s in self.sends if s.sender is sender]


def _sends() -> list[Send]:
    plan: list[tuple[Sender, str, str, dict[str, Any], str | None]] = []
    n = 0

    def add(sender: Sender, number: str, kind: str, body: dict[str, Any], name: str | None = None) -> None:
        plan.append((sender, number, kind, body, name))

    for lang in ("en", "es", "de", "fr", "pt"):
        n += 1
        add(SUPPORT, SUPPORT_LINE, "text", text(SERVICE_TEXTS[lang], n))
    for order, day in (("A-20931", "Friday"), ("A-20977", "Monday"), ("A-21002", "Tuesday")):
        n += 1
        add(SUPPORT, SUPPORT_LINE, "template", template("delivery_update", "en_US", [order, day], n), "delivery_update")
    for lang in ("en", "de"):
        n += 1
        add(SUPPORT, SUPPORT_LINE, "interactive",
            interactive(SERVICE_BUTTON_BODIES[lang], ["Yes", "No"], n))

    for invoice, amount in (("2026-1187", "84.90"), ("2026-1190", "12.00"), ("2026-1201", "230.15"),
                            ("2026-1222", "57.30")):
        n += 1
        add(BILLING, NOTICES_LINE, "template", template("invoice_ready", "en_US", [invoice, amount], n),
            "invoice_ready")
    # Billing and the clinic send at least ten scored messages each: the inventory proposes a
    # customer_service origin only on that much evidence (a declared service bot is no longer
    # scored), and leaves a sender with fewer undeclared for review.
    for lang in ("en", "de", "it", "es", "fr", "pt"):
        n += 1
        add(BILLING, NOTICES_LINE, "text", text(SERVICE_TEXTS[lang], n))
    n += 1
    add(BILLING, NOTICES_LINE, "template", template("invoice_ready", "en_US", ["2026-1240", "19.99"], n),
        "invoice_ready")

    for lang in ("es", "en", "pt", "de", "fr", "it"):
        n += 1
        add(CLINIC, NOTICES_LINE, "text", text(SERVICE_TEXTS[lang], n))
    n += 1
    add(CLINIC, CLINIC_LINE, "image", image(SERVICE_CAPTIONS["en"], n))
    for lang in ("en", "es"):
        n += 1
        add(CLINIC, CLINIC_LINE, "image", image(SERVICE_CAPTIONS[lang], n))
    for when in ("3 January, 09:15", "5 January, 16:40"):
        n += 1
        add(CLINIC, CLINIC_LINE, "template", template("appointment_reminder_v2", "en", ["Dr Ruiz", when], n),
            "appointment_reminder_v2")

    for lang in ("en", "es", "fr", "de", "it"):
        n += 1
        add(CHATBOT, ASSISTANT_LINE, "text", text(ASSISTANT_TEXTS[lang], n))
    n += 1
    add(CHATBOT, ASSISTANT_LINE, "interactive",
        interactive(ASSISTANT_TEXTS["pt"], ["Tell me more", "New topic"], n))
    n += 1
    add(CHATBOT, ASSISTANT_LINE, "image", image(ASSISTANT_CAPTION, n))

    for lang, number in (("pt", ASSISTANT_LINE), ("en", CONNECTOR_LINE), ("es", CONNECTOR_LINE),
                         ("fr", CONNECTOR_LINE)):
        n += 1
        add(CONNECTOR, number, "text", text(ASSISTANT_TEXTS[lang], n))
    n += 1
    add(CONNECTOR, CONNECTOR_LINE, "interactive", interactive(ASSISTANT_TEXTS["de"], ["More", "Stop"], n))

    # Interleave the senders, as real traffic would be, in a fixed order.
    order = sorted(range(len(plan)), key=lambda i: ((i * 7) % len(plan), i))
    return [Send(f"send-{k:03d}-{plan[i][0].key}", *plan[i]) for k, i in enumerate(order, start=1)]


# --- training uploads ------------------------------------------------------------------
def _chat_record(i: int, whatsapp: bool) -> bytes:
    record: dict[str, Any] = {"messages": [
        {"role": "system", "content": "You answer questions about Northwind parcels."},
        {"role": "user", "content": f"Where is parcel A-{i:05d}?"},
        {"role": "assistant", "content": f"Parcel A-{i:05d} is at the depot and ships tomorrow."},
    ]}
    if whatsapp:
        kind = i % 3
        if kind == 0:
            record["source_message_id"] = f"wamid.HBgLMTU1NTAxMjM0NTY3FQIAEhgU{i:08d}QUJDREVGRzEyMzQA"
        elif kind == 1:
            record["metadata"] = {"channel": "whatsapp", "ticket": i}
        else:
            record["wa_id"] = f"15550100{i % 1000:03d}"
    return json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n"


def _jsonl_upload(ident: str, endpoint: str, authority: str, first: int, records: int,
                  whatsapp_at: set[int]) -> Upload:
    lines = [_chat_record(first + i, i in whatsapp_at) for i in range(records)]
    clean = sum(len(line) for i, line in enumerate(lines) if i not in whatsapp_at)
    return Upload(ident, endpoint, authority, "/v1/files", b"".join(lines), records, len(whatsapp_at), clean)


def _uploads() -> list[Upload]:
    return [
        _jsonl_upload("upload-1-openai", "openai-files", "api.openai.com", 0, 10, {2, 5, 9}),
        _jsonl_upload("upload-2-mistral", "mistral", "api.mistral.ai", 100, 8, {0, 4}),
        _jsonl_upload("upload-3-openai", "openai-files", "api.openai.com", 200, 6, set()),
    ]


def workload() -> Workload:
    return Workload(_sends(), _uploads())


# --- the traffic file ------------------------------------------------------------------
def traffic_record(item: Send | Upload, source_port: int = 40000) -> dict[str, Any]:
    """One request in the JSON request format (`wa-guard explain`, `wa-guard replay`)."""
    if isinstance(item, Send):
        return {
            "id": item.id,
            "method": "POST",
            "authority": "graph.facebook.com",
            "path": item.path,
            "headers": {"content-type": "application/json", "authorization": "Bearer EAAe2eTestToken",
                        **item.sender.header},
            "properties": {"source.address": f"{item.sender.source_ip}:{source_port}"},
            "body": item.body,
        }
    return {
        "id": item.id,
        "method": "POST",
        "authority": item.authority,
        "path": item.path,
        "headers": {"content-type": "application/jsonl"},
        "properties": {"source.address": f"{TRUSTED_HOP_ADDRESS}:{source_port}"},
        "body": item.body.decode("utf-8"),
    }


def write_traffic(path: Path, work: Workload) -> None:
    lines = [json.dumps(traffic_record(s), ensure_ascii=False) for s in work.sends]
    lines += [json.dumps(traffic_record(u), ensure_ascii=False) for u in work.uploads]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
