"""Request bodies and upload data for the Envoy benchmarks. Every text here is original to
this file (written for the benchmark, not taken from any corpus), and every generator is
deterministic (fixed seed).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

PHONE_NUMBER_ID = "106540352242922"
WHATSAPP_HOST = "graph.facebook.com"
MESSAGES_PATH = f"/v21.0/{PHONE_NUMBER_ID}/messages"


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    host: str
    path: str
    body: bytes
    # what wa-egress-guard must decide: allow | block | none (not a WhatsApp call)
    expect: str


def _send(to: str, message: dict) -> bytes:
    doc = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    doc.update(message)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


CS_TEXT = (
    "Hi Priya, thanks for getting in touch with Northwind Outdoor support. Your order #NW-582913 "
    "(the Alpine 45 L backpack in slate and a pair of trail gaiters) left our warehouse in Leeds this "
    "morning and is now with the courier. Tracking number: 1Z 884 512 039 7741. Estimated delivery is "
    "Thursday 14 May between 9:00 and 13:00, and the driver will text you an hour before arrival. If "
    "nobody is home, the parcel goes to the Parcel Point at 12 Mill Lane, where it is held for 7 days. "
    "About the tent pegs you sent back: we received them on 5 May and the refund of GBP 18.40 went to "
    "your Visa ending 4421 the same day; it can take 3 to 5 working days to show on your statement. "
    "Need a different delivery address or time slot? Reply CHANGE and I will send you the options, or "
    "reply AGENT to talk to someone from our team (Monday to Saturday, 8:00 to 20:00). Thanks for "
    "shopping with us, and enjoy the hills!"
)

ASSISTANT_TEXT = (
    "Great question! Here's a simple explanation of why we have tides.\n\n"
    "## The short version\n\n"
    "Tides are caused mainly by the **gravitational pull of the Moon**, with a smaller contribution "
    "from the Sun. The Moon pulls slightly harder on the side of the Earth that faces it than on the "
    "far side, and that difference stretches the oceans into two bulges.\n\n"
    "## How it works\n\n"
    "1. **The near-side bulge**: water facing the Moon is pulled towards it a little more than the "
    "solid Earth is.\n"
    "2. **The far-side bulge**: on the opposite side, the Earth is pulled away from the water, which "
    "is left behind as a second bulge.\n"
    "3. **The rotation**: as the Earth spins once a day, most coastlines pass through both bulges, "
    "which is why many places see two high tides and two low tides roughly every 24 hours and 50 "
    "minutes.\n\n"
    "## Spring and neap tides\n\n"
    "When the Sun, Moon and Earth line up (at new and full moon), their pulls add up and we get "
    "larger *spring tides*. When they are at right angles, the effects partly cancel and we get "
    "smaller *neap tides*.\n\n"
    "In short, tides are the oceans responding to the uneven pull of the Moon and the Sun on a "
    "rotating planet. Would you like me to explain why some places, like the Bay of Fundy, have "
    "enormous tides while others barely have any?"
)


def _interactive_list() -> dict:
    days = [("Tue 12 May", "tue"), ("Wed 13 May", "wed"), ("Thu 14 May", "thu")]
    slots = [("08:00", "early"), ("10:30", "mid-morning"), ("13:00", "after lunch"), ("15:30", "afternoon")]
    sections = []
    n = 0
    for day, key in days:
        rows = []
        for time, label in slots:
            if n >= 10:
                break
            n += 1
            rows.append({
                "id": f"slot_2026-05-{12 + len(sections)}T{time}_leeds-city-centre_tech-0{n % 7 + 1}_annual-boiler-service_booking-BK-77{n:02d}31",
                "title": f"{day[:3]} {time}",
                "description": f"{label.capitalize()} visit, engineer arrives within 2 h of {time}, about 60 min",
            })
        sections.append({"title": day, "rows": rows})
    body = (
        "Hello Mr Okafor, it is time for the annual service of your Vaillant ecoTEC boiler at 27 "
        "Harehills Lane (contract HS-204871). Your service plan covers the visit, the flue gas "
        "analysis and the safety certificate, so there is nothing to pay on the day. Please pick a "
        "time slot from the list below. The engineer will need access to the boiler, the gas meter "
        "and the thermostat, and the visit usually takes about an hour. If none of these slots "
        "suits you, tap 'Other dates' and a member of our bookings team will call you back within "
        "one working day. You can reschedule or cancel free of charge up to 24 hours before the "
        "visit by replying to this chat. Our engineers carry ID and will never ask for payment "
        "details at your door. Parking: please let us know if there are restrictions on your "
        "street, so we can plan for a permit. Thank you for being a HomeSure customer since 2019."
    )
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Annual boiler service: choose a slot"},
            "body": {"text": body},
            "footer": {"text": "HomeSure Heating - bookings team, Leeds"},
            "action": {"button": "See time slots", "sections": sections},
        },
    }


def request_workloads() -> list[Workload]:
    cs = _send("447700900123", {"type": "text", "text": {"preview_url": False, "body": CS_TEXT}})
    interactive = _send("447700900456", _interactive_list())
    # Pad the interactive send with a longer list-row description set to reach about 4 KB,
    # keeping the shape of a real list message.
    assistant = _send("447700900789", {"type": "text", "text": {"body": ASSISTANT_TEXT}})
    other = json.dumps(
        {"customer": "cus_8842", "event": "order.updated", "order": {"id": "NW-582913", "status": "shipped",
         "notes": CS_TEXT}}, separators=(",", ":")).encode("utf-8")
    return [
        Workload("cs_text_1k", "customer-service text send (allowed)", WHATSAPP_HOST, MESSAGES_PATH, cs, "allow"),
        Workload("interactive_4k", "interactive list send (allowed)", WHATSAPP_HOST, MESSAGES_PATH, interactive, "allow"),
        Workload("assistant_block", "general-assistant send (blocked)", WHATSAPP_HOST, MESSAGES_PATH, assistant, "block"),
        Workload("other_host", "request to a non-WhatsApp host", "api.example.com", "/v1/orders/events", other, "none"),
    ]


# --- the training upload ---------------------------------------------------------------

_FIRST = ["Amira", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Keiko",
          "Liam", "Maya", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor",
          "Wen", "Yusuf", "Zoe"]
_PRODUCTS = ["wireless earbuds", "standing desk", "espresso machine", "hiking boots", "air fryer",
             "winter jacket", "phone case", "yoga mat", "robot vacuum", "desk lamp", "running shoes",
             "baby stroller", "electric kettle", "gaming chair", "suitcase", "smart watch",
             "blender", "office chair", "rain jacket", "bike helmet"]
_ISSUES = ["arrived with a cracked lid", "has not arrived yet", "was the wrong size", "stopped charging",
           "makes a rattling noise", "is missing the power cable", "was charged twice",
           "shows a delivered status but is not here", "came in the wrong colour",
           "does not connect to the app", "has a scratch on the side", "was delivered to a neighbour"]
_ASKS = ["Can I get a replacement?", "How do I return it?", "When will it be delivered?",
         "Can you refund the extra charge?", "Is there a repair option?", "Can I change the address?",
         "Do you have it in stock in another size?", "What does the warranty cover?"]
_ANSWERS = [
    "I'm sorry about that. I've arranged a free replacement, which ships within two working days.",
    "You can return it within 30 days from your account page; the label is prepaid.",
    "The courier shows it at the local depot, so it should reach you tomorrow before 6 pm.",
    "I've refunded the duplicate charge; it will show on your statement in 3 to 5 days.",
    "The item is under warranty, so a technician can repair it at no cost to you.",
    "I've updated the delivery address; you'll get a new tracking link by email.",
    "We have it in stock in the next size up, and the exchange is free of charge.",
    "The warranty covers manufacturing faults for two years, but not accidental damage.",
    "Thanks for your patience. I've escalated this to our logistics team with high priority.",
    "I checked with the warehouse and the part is back in stock from Monday.",
]
_FILLER = ["Thanks for getting back to me so quickly.", "I ordered it last week for my sister's birthday.",
           "This is the second time it happened.", "I really like the product otherwise.",
           "I've attached a photo of the box.", "Please let me know what you need from me.",
           "My order confirmation email mentions free shipping.", "I'm travelling next week, so timing matters.",
           "The instructions were not very clear either.", "Your colleague on the phone said it was fine."]
_CHANNELS_OTHER = ["email", "web_chat", "phone", "app", "sms"]


_NOUNS = ("account address app battery bill blender box cable card charger colour courier date delivery "
          "depot desk discount door driver email engineer error fee filter form guarantee handle invoice item "
          "jacket kettle label lamp laptop lid link manual model motor neighbour number order package parcel "
          "part password payment phone photo plug price receipt refund replacement report return screen seller "
          "shipment size speaker stock strap subscription switch team ticket timer tracking update voucher "
          "warehouse warranty website week weekend window").split()
_VERBS = ("arrived broke changed charged checked cancelled confirmed cracked delivered dropped emailed failed "
          "fixed forgot heard kept left lost missed moved noticed opened ordered paid posted reached received "
          "refunded replaced returned scratched sent shipped showed stopped switched tested tracked tried "
          "updated used waited wanted worked").split()
_ADJS = ("blue broken cheap cold damaged different early extra faulty fragile free full heavy huge late "
         "light local loose missing new noisy old original quick second slow small spare strange tiny used "
         "warm wet wrong yellow annual monthly premium standard urgent").split()
_ADVS = ("again already today yesterday tomorrow twice quickly finally suddenly still recently soon "
         "eventually apparently honestly luckily").split()
_PREPS = "after before during with without from into onto behind near under about".split()
_DETS = "the my your our this that another every".split()


def _sentence(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.1:
        return f"My {rng.choice(_PRODUCTS)} {rng.choice(_ISSUES)}. {rng.choice(_ASKS)}"
    if kind < 0.15:
        return rng.choice(_ANSWERS)
    if kind < 0.2:
        return rng.choice(_FILLER)
    words = [rng.choice(_DETS), rng.choice(_ADJS), rng.choice(_NOUNS), rng.choice(_VERBS),
             rng.choice(_PREPS), rng.choice(_DETS), rng.choice(_NOUNS)]
    if rng.random() < 0.5:
        words.append(rng.choice(_ADVS))
    if rng.random() < 0.3:
        words += ["and", rng.choice(_DETS), rng.choice(_NOUNS), rng.choice(_VERBS), rng.choice(_ADVS)]
    if rng.random() < 0.2:
        words.append(f"(ref {rng.randint(10000, 99999)})")
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "?", "!"])


def _sentence_pool(rng: random.Random, n: int) -> list[str]:
    return [_sentence(rng) for _ in range(n)]


def _b64ish(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _record(rng: random.Random, pool: list[str], whatsapp: bool, i: int) -> dict:
    name = rng.choice(_FIRST)
    turns = [{"role": "system", "content": "You are the support assistant of Northwind Retail. Be brief and kind."}]
    for _ in range(rng.randint(1, 3)):
        turns.append({"role": "user", "content": f"Hi, this is {name}. " + " ".join(rng.sample(pool, rng.randint(1, 3)))})
        turns.append({"role": "assistant", "content": " ".join(rng.sample(pool, rng.randint(1, 3)))})
    meta: dict = {"ticket": f"T-{rng.randint(1000000, 9999999)}", "created": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"}
    if whatsapp:
        marker = i % 4
        if marker == 0:
            meta["channel"] = "whatsapp"
        elif marker == 1:
            meta["message_id"] = "wamid.HBgL" + _b64ish(rng, 40) + "="
        elif marker == 2:
            meta["wa_id"] = f"44770090{rng.randint(1000, 9999)}"
        else:
            meta["source"] = "WhatsApp Business"
    else:
        meta["channel"] = rng.choice(_CHANNELS_OTHER)
    return {"messages": turns, "metadata": meta}


def write_jsonl(path: Path, target_bytes: int, seed: int = 20260115, whatsapp_share: float = 0.2) -> dict:
    """Writes about `target_bytes` of JSONL training records (a share of them WhatsApp-derived,
    chosen at random with a fixed seed). Returns counts."""
    rng = random.Random(seed)
    pool = _sentence_pool(rng, 60000)
    written = records = wa = 0
    with open(path, "wb") as f:
        batch: list[bytes] = []
        while written < target_bytes:
            is_wa = rng.random() < whatsapp_share
            line = json.dumps(_record(rng, pool, is_wa, records), separators=(",", ":")).encode() + b"\n"
            batch.append(line)
            written += len(line)
            records += 1
            wa += is_wa
            if len(batch) >= 2000:
                f.write(b"".join(batch))
                batch.clear()
        f.write(b"".join(batch))
    return {"bytes": written, "records": records, "whatsapp_records": wa}
