#!/usr/bin/env python3
"""Validate the labelled detection corpus and print its counts.

Usage: python3 policies/tests/corpus/stats.py [DIR]

Checks every line of every `*.jsonl` file in DIR (default: this script's folder):
JSON syntax, required fields, label / lang / kind / hard / tags values, unique ids,
no two items with the same user-visible text, phone-like numbers being fictional
(containing 555), and the shape of the WhatsApp Cloud API send body for each message type (without the
envelope fields `messaging_product`, `recipient_type`, `to`, which the runner adds).
Then prints counts per language x label x length band of the user-visible text.
Exits 1 when any line is invalid. Python 3 standard library only.
"""

import json
import os
import re
import sys
from collections import Counter, defaultdict

LABELS = ("customer_service", "general_assistant")
KINDS = ("text", "interactive", "template", "image", "document")
REQUIRED = ("id", "label", "lang", "kind", "hard", "tags", "message")
ENVELOPE = ("messaging_product", "recipient_type", "to", "recipient")
BANDS = ("<300", "300-1000", ">1000")
ID_RE = re.compile(r"^(?P<lang>[a-z]{2}(?:-latn)?)-(?P<lab>cs|ga)-(?P<n>\d{3})$")
TEMPLATE_NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
# Phone-number shapes (international "+...", North American "(303) 555-0123", European "01 23 45 67 89",
# "030 1234567"); fictional numbers in this corpus must contain 555.
PHONE_RE = re.compile(
    r"\+\d[\d \-().]{7,}\d"
    r"|(?<![\w\-/#.])\(?\d{3}\)?[ .\-]\d{3}[ .\-]\d{4}(?![\w\-])"
    r"|(?<![\w\-/#.])0\d{1,4}[ /]\d{2,8}(?:[ .]\d{2,4}){0,3}(?![\w\-])"
)


class Problems:
    def __init__(self):
        self.items = []

    def add(self, where, msg):
        self.items.append(f"{where}: {msg}")


def is_str(v, max_len=None, allow_empty=False):
    if not isinstance(v, str):
        return False
    if not allow_empty and not v.strip():
        return False
    return max_len is None or len(v) <= max_len


def check_keys(obj, allowed, where, probs, what):
    if not isinstance(obj, dict):
        probs.add(where, f"{what} must be an object")
        return False
    extra = set(obj) - set(allowed)
    if extra:
        probs.add(where, f"{what} has unexpected keys {sorted(extra)}")
    return True


def check_media_ref(obj, where, probs, what):
    has_link = "link" in obj
    has_id = "id" in obj
    if has_link == has_id:
        probs.add(where, f"{what} needs exactly one of `link` or `id`")
    if has_link and not (is_str(obj["link"]) and obj["link"].startswith("https://")):
        probs.add(where, f"{what}.link must be an https URL")
    if has_id and not is_str(obj["id"]):
        probs.add(where, f"{what}.id must be a non-empty string")


def visible_text(msg):
    """Concatenate the fields a WhatsApp user reads, in display order."""
    kind = msg.get("type")
    parts = []
    if kind == "text":
        parts.append(msg["text"]["body"])
    elif kind == "interactive":
        inter = msg["interactive"]
        header = inter.get("header")
        if header and header.get("type") == "text":
            parts.append(header["text"])
        parts.append(inter["body"]["text"])
        if "footer" in inter:
            parts.append(inter["footer"]["text"])
        action = inter["action"]
        if inter["type"] == "button":
            parts.extend(b["reply"]["title"] for b in action["buttons"])
        else:
            parts.append(action["button"])
            for sec in action["sections"]:
                if "title" in sec:
                    parts.append(sec["title"])
                for row in sec["rows"]:
                    parts.append(row["title"])
                    if "description" in row:
                        parts.append(row["description"])
    elif kind == "template":
        for comp in msg["template"].get("components", []):
            for p in comp.get("parameters", []):
                if p.get("type") == "text":
                    parts.append(p["text"])
    elif kind in ("image", "document"):
        media = msg[kind]
        if "caption" in media:
            parts.append(media["caption"])
        if kind == "document" and "filename" in media:
            parts.append(media["filename"])
    return "\n".join(parts)


def check_text(msg, where, probs):
    t = msg.get("text")
    if not check_keys(t, ("body", "preview_url"), where, probs, "text"):
        return
    if not is_str(t.get("body"), 4096):
        probs.add(where, "text.body must be a non-empty string of at most 4096 chars")
    if "preview_url" in t and not isinstance(t["preview_url"], bool):
        probs.add(where, "text.preview_url must be a boolean")


def check_interactive(msg, where, probs):
    inter = msg.get("interactive")
    if not check_keys(inter, ("type", "header", "body", "footer", "action"), where, probs, "interactive"):
        return
    itype = inter.get("type")
    if itype not in ("button", "list"):
        probs.add(where, f"interactive.type `{itype}` must be button or list")
        return
    header = inter.get("header")
    if header is not None:
        if check_keys(header, ("type", "text"), where, probs, "interactive.header"):
            if header.get("type") != "text" or not is_str(header.get("text"), 60):
                probs.add(where, "interactive.header must be {type: text, text <= 60 chars}")
    body = inter.get("body")
    if check_keys(body, ("text",), where, probs, "interactive.body"):
        if not is_str(body.get("text"), 1024):
            probs.add(where, "interactive.body.text must be a non-empty string of at most 1024 chars")
    footer = inter.get("footer")
    if footer is not None:
        if check_keys(footer, ("text",), where, probs, "interactive.footer"):
            if not is_str(footer.get("text"), 60):
                probs.add(where, "interactive.footer.text must be at most 60 chars")
    action = inter.get("action")
    if itype == "button":
        if not check_keys(action, ("buttons",), where, probs, "interactive.action"):
            return
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            probs.add(where, "interactive.action.buttons must hold 1 to 3 buttons")
            return
        ids, titles = set(), set()
        for i, b in enumerate(buttons):
            w = f"{where} buttons[{i}]"
            if not check_keys(b, ("type", "reply"), w, probs, "button"):
                continue
            reply = b.get("reply")
            if b.get("type") != "reply" or not check_keys(reply, ("id", "title"), w, probs, "reply"):
                probs.add(w, "button must be {type: reply, reply: {id, title}}")
                continue
            if not is_str(reply.get("id"), 256) or not is_str(reply.get("title"), 20):
                probs.add(w, "reply.id must be <= 256 chars and reply.title <= 20 chars")
            if reply.get("id") in ids or reply.get("title") in titles:
                probs.add(w, "button ids and titles must be unique")
            ids.add(reply.get("id"))
            titles.add(reply.get("title"))
    else:
        if not check_keys(action, ("button", "sections"), where, probs, "interactive.action"):
            return
        if not is_str(action.get("button"), 20):
            probs.add(where, "interactive.action.button must be at most 20 chars")
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
            probs.add(where, "interactive.action.sections must hold 1 to 10 sections")
            return
        rows_total = 0
        row_ids = set()
        for si, sec in enumerate(sections):
            w = f"{where} sections[{si}]"
            if not check_keys(sec, ("title", "rows"), w, probs, "section"):
                continue
            if "title" in sec and not is_str(sec["title"], 24):
                probs.add(w, "section.title must be at most 24 chars")
            if len(sections) > 1 and "title" not in sec:
                probs.add(w, "section.title is required when there are several sections")
            rows = sec.get("rows")
            if not isinstance(rows, list) or not rows:
                probs.add(w, "section.rows must be a non-empty list")
                continue
            for ri, row in enumerate(rows):
                rw = f"{w} rows[{ri}]"
                rows_total += 1
                if not check_keys(row, ("id", "title", "description"), rw, probs, "row"):
                    continue
                if not is_str(row.get("id"), 200) or not is_str(row.get("title"), 24):
                    probs.add(rw, "row.id must be <= 200 chars and row.title <= 24 chars")
                if "description" in row and not is_str(row["description"], 72):
                    probs.add(rw, "row.description must be at most 72 chars")
                if row.get("id") in row_ids:
                    probs.add(rw, "row ids must be unique within the message")
                row_ids.add(row.get("id"))
        if rows_total > 10:
            probs.add(where, "a list message holds at most 10 rows")


def check_template(msg, where, probs):
    t = msg.get("template")
    if not check_keys(t, ("name", "language", "components"), where, probs, "template"):
        return
    if not is_str(t.get("name")) or not TEMPLATE_NAME_RE.match(t["name"]):
        probs.add(where, "template.name must match [a-z0-9_]+")
    lang = t.get("language")
    if not check_keys(lang, ("code", "policy"), where, probs, "template.language") or not is_str(lang.get("code")):
        probs.add(where, "template.language.code is required")
    comps = t.get("components", [])
    if not isinstance(comps, list):
        probs.add(where, "template.components must be a list")
        return
    for ci, comp in enumerate(comps):
        w = f"{where} components[{ci}]"
        if not check_keys(comp, ("type", "sub_type", "index", "parameters"), w, probs, "component"):
            continue
        ctype = comp.get("type")
        if ctype not in ("header", "body", "button"):
            probs.add(w, f"component.type `{ctype}` must be header, body or button")
        if ctype == "button":
            if comp.get("sub_type") not in ("quick_reply", "url", "copy_code"):
                probs.add(w, "button component needs sub_type quick_reply, url or copy_code")
            if not isinstance(comp.get("index"), str) or not comp["index"].isdigit():
                probs.add(w, "button component needs a string index")
        params = comp.get("parameters")
        if not isinstance(params, list) or not params:
            probs.add(w, "component.parameters must be a non-empty list")
            continue
        for pi, p in enumerate(params):
            pw = f"{w} parameters[{pi}]"
            if not isinstance(p, dict):
                probs.add(pw, "parameter must be an object")
                continue
            ptype = p.get("type")
            if ptype == "text":
                if not is_str(p.get("text"), 32768):
                    probs.add(pw, "text parameter needs a non-empty text")
            elif ptype == "payload":
                if not is_str(p.get("payload")):
                    probs.add(pw, "payload parameter needs a payload")
            elif ptype in ("image", "document", "video"):
                if check_keys(p.get(ptype), ("link", "id", "filename"), pw, probs, ptype):
                    check_media_ref(p[ptype], pw, probs, ptype)
            else:
                probs.add(pw, f"unsupported parameter type `{ptype}`")


def check_media(msg, where, probs):
    kind = msg["type"]
    media = msg.get(kind)
    allowed = ("link", "id", "caption") + (("filename",) if kind == "document" else ())
    if not check_keys(media, allowed, where, probs, kind):
        return
    check_media_ref(media, where, probs, kind)
    if not is_str(media.get("caption"), 1024):
        probs.add(where, f"{kind}.caption must be a non-empty string of at most 1024 chars")
    if kind == "document" and not is_str(media.get("filename"), 240):
        probs.add(where, "document.filename is required")


CHECKERS = {
    "text": check_text,
    "interactive": check_interactive,
    "template": check_template,
    "image": check_media,
    "document": check_media,
}


def check_record(rec, file_lang, where, probs):
    if not isinstance(rec, dict):
        probs.add(where, "line must be a JSON object")
        return False
    missing = [k for k in REQUIRED if k not in rec]
    if missing:
        probs.add(where, f"missing fields {missing}")
        return False
    extra = set(rec) - set(REQUIRED)
    if extra:
        probs.add(where, f"unexpected fields {sorted(extra)}")
    ok = True
    m = ID_RE.match(rec["id"]) if isinstance(rec["id"], str) else None
    if not m:
        probs.add(where, f"id `{rec['id']}` must look like <lang>-<cs|ga>-<nnn>")
        ok = False
    if rec["label"] not in LABELS:
        probs.add(where, f"label `{rec['label']}` must be one of {LABELS}")
        ok = False
    if rec["lang"] != file_lang:
        probs.add(where, f"lang `{rec['lang']}` does not match the file `{file_lang}.jsonl`")
        ok = False
    if m and (m.group("lang") != rec["lang"] or
              {"cs": "customer_service", "ga": "general_assistant"}[m.group("lab")] != rec["label"]):
        probs.add(where, f"id `{rec['id']}` disagrees with lang or label")
        ok = False
    if not isinstance(rec["hard"], bool):
        probs.add(where, "hard must be a boolean")
        ok = False
    tags = rec["tags"]
    if not isinstance(tags, list) or not tags or not all(is_str(t) and t == t.strip() for t in tags):
        probs.add(where, "tags must be a non-empty list of non-empty strings")
        ok = False
    msg = rec["message"]
    if not isinstance(msg, dict):
        probs.add(where, "message must be an object")
        return False
    env = [k for k in ENVELOPE if k in msg]
    if env:
        probs.add(where, f"message must not carry envelope fields {env}")
        ok = False
    kind = msg.get("type")
    if kind not in KINDS:
        probs.add(where, f"message.type `{kind}` must be one of {KINDS}")
        return False
    if rec["kind"] != kind:
        probs.add(where, f"kind `{rec['kind']}` differs from message.type `{kind}`")
        ok = False
    extra = set(msg) - {"type", kind} - set(ENVELOPE)
    if extra:
        probs.add(where, f"message has unexpected keys {sorted(extra)}")
        ok = False
    before = len(probs.items)
    CHECKERS[kind](msg, where, probs)
    if len(probs.items) != before:
        return False
    text = visible_text(msg)
    for phone in PHONE_RE.findall(text):
        if sum(ch.isdigit() for ch in phone) >= 9 and "555" not in phone:
            probs.add(where, f"phone-like number `{phone}` is not a fictional 555 number")
            ok = False
    return ok


def band(n):
    if n < 300:
        return BANDS[0]
    if n <= 1000:
        return BANDS[1]
    return BANDS[2]


def load(folder, probs):
    records = []
    seen = {}
    texts = {}
    files = sorted(f for f in os.listdir(folder) if f.endswith(".jsonl"))
    if not files:
        probs.add(folder, "no .jsonl files")
    for name in files:
        file_lang = name[: -len(".jsonl")]
        with open(os.path.join(folder, name), encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                where = f"{name}:{lineno}"
                if not line.strip():
                    probs.add(where, "empty line")
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as err:
                    probs.add(where, f"invalid JSON: {err}")
                    continue
                if not check_record(rec, file_lang, where, probs):
                    continue
                if rec["id"] in seen:
                    probs.add(where, f"duplicate id `{rec['id']}` (first at {seen[rec['id']]})")
                    continue
                seen[rec["id"]] = where
                text = visible_text(rec["message"])
                if text in texts:
                    probs.add(where, f"same user-visible text as {texts[text]}")
                    continue
                texts[text] = rec["id"]
                rec["_len"] = len(text)
                records.append(rec)
    return records


def pct(a, b):
    return f"{100.0 * a / b:5.1f}%" if b else "  n/a"


def report(records):
    langs = sorted({r["lang"] for r in records}, key=lambda l: (l != "en", l))
    grid = defaultdict(Counter)
    for r in records:
        grid[(r["lang"], r["label"])][band(r["_len"])] += 1

    out = []
    out.append("Counts per language x label x length band (chars of user-visible text)")
    head = f"{'lang':<8}{'label':<19}" + "".join(f"{b:>10}" for b in BANDS) + f"{'total':>8}{'hard':>7}"
    out.append(head)
    out.append("-" * len(head))
    totals = defaultdict(Counter)
    for lang in langs:
        for lab in LABELS:
            c = grid[(lang, lab)]
            hard = sum(1 for r in records if r["lang"] == lang and r["label"] == lab and r["hard"])
            n = sum(c.values())
            out.append(f"{lang:<8}{lab:<19}" + "".join(f"{c[b]:>10}" for b in BANDS) + f"{n:>8}{hard:>7}")
            for b in BANDS:
                totals[lab][b] += c[b]
            totals[lab]["hard"] += hard
    out.append("-" * len(head))
    for lab in LABELS:
        c = totals[lab]
        n = sum(c[b] for b in BANDS)
        out.append(f"{'all':<8}{lab:<19}" + "".join(f"{c[b]:>10}" for b in BANDS) + f"{n:>8}{c['hard']:>7}")
    out.append("")

    per_lang = Counter(r["lang"] for r in records)
    out.append("Items per language: " + ", ".join(f"{l} {per_lang[l]}" for l in langs) + f"; total {len(records)}")

    kinds = Counter((r["label"], r["kind"]) for r in records)
    out.append("Message types:")
    for lab in LABELS:
        out.append(f"  {lab:<19}" + ", ".join(f"{k} {kinds[(lab, k)]}" for k in KINDS))

    n = len(records)
    hard = sum(1 for r in records if r["hard"])
    ga = [r for r in records if r["label"] == "general_assistant"]
    cs = [r for r in records if r["label"] == "customer_service"]
    ga_short = sum(1 for r in ga if r["_len"] < 300)
    ga_long = sum(1 for r in ga if r["_len"] >= 700)
    cs_long = sum(1 for r in cs if r["_len"] > 300)
    out.append(f"Hard cases: {hard} of {n} ({pct(hard, n).strip()})")
    out.append(f"general_assistant under 300 chars: {ga_short} of {len(ga)} ({pct(ga_short, len(ga)).strip()});"
               f" 700 chars or more: {ga_long} ({pct(ga_long, len(ga)).strip()})")
    out.append(f"customer_service over 300 chars: {cs_long} of {len(cs)} ({pct(cs_long, len(cs)).strip()})")
    for lab in LABELS:
        tags = Counter(t for r in records if r["label"] == lab and r["hard"] for t in r["tags"])
        out.append(f"Most frequent tags on hard {lab} items: " +
                   ", ".join(f"{t} {n}" for t, n in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[:12]))
    lens = sorted(r["_len"] for r in records)
    out.append(f"Visible length: min {lens[0]}, median {lens[len(lens) // 2]}, max {lens[-1]}")
    return "\n".join(out)


def main(argv):
    folder = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    probs = Problems()
    records = load(folder, probs)
    if records:
        print(report(records))
    if probs.items:
        print(f"\n{len(probs.items)} problem(s):", file=sys.stderr)
        for p in probs.items:
            print("  " + p, file=sys.stderr)
        return 1
    print("\nAll lines valid.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
