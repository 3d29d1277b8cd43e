#!/usr/bin/env python3
"""Turn envoy/bench/lexicon.json into plain phrases for the Lua comparison filter.

Envoy's Lua filter has Lua patterns, not regular expressions: no alternation, no `\\b`, no
case-insensitive Unicode matching. So each lexicon rule is expanded into the literal phrases
it matches (alternations, optional groups, small character classes and `\\d` become every
combination). A rule that uses something a phrase cannot express (`.*`, `[^ ]+`, `{0,4}`,
`^`/`$`, ...) is cut at that point and represented by its longest expandable literal run:
it then fires more often than the real rule (an approximation, counted in the stats).
A rule whose expansion would exceed MAX_PHRASES_PER_RULE keeps the first ones (counted too).

Output: Lua source defining `LEXICON = { {weight, {phrases...}}, ... }` and `LEXICON_STATS`.
`wa_check.lua` indexes the phrases by their first word.

    python envoy/bench/lua_lexicon.py [envoy/bench/lexicon.json] > lexicon.lua
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

try:  # Python 3.11+
    import re._constants as sre_c  # type: ignore[import-not-found]
    import re._parser as sre_p  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse as sre_p  # type: ignore[no-redef]

MAX_PHRASES_PER_RULE = 256
MAX_CLASS = 12


class Unsupported(Exception):
    pass


def _class_chars(items) -> list[str]:
    chars: list[str] = []
    for op, av in items:
        if op is sre_c.LITERAL:
            chars.append(chr(av))
        elif op is sre_c.RANGE:
            lo, hi = av
            if hi - lo + 1 > MAX_CLASS:
                raise Unsupported("wide range")
            chars.extend(chr(c) for c in range(lo, hi + 1))
        elif op is sre_c.CATEGORY and av is sre_c.CATEGORY_DIGIT:
            chars.extend("0123456789")
        elif op is sre_c.NEGATE:
            raise Unsupported("negated class")
        else:
            raise Unsupported(f"class item {op}")
    if len(chars) > MAX_CLASS:
        raise Unsupported("big class")
    return chars


def _expand(seq) -> list[str]:
    """All literal strings a parsed (sub)pattern matches; raises Unsupported."""
    out = [""]
    for op, av in seq:
        if op is sre_c.LITERAL:
            alts = [chr(av)]
        elif op is sre_c.AT:
            if av in (sre_c.AT_BOUNDARY, sre_c.AT_NON_BOUNDARY):
                continue  # word boundaries: dropped (the Lua side matches at word starts)
            raise Unsupported("anchor")
        elif op is sre_c.IN:
            alts = _class_chars(av)
        elif op is sre_c.SUBPATTERN:
            alts = _expand(av[-1])
        elif op is sre_c.BRANCH:
            alts = [s for branch in av[1] for s in _expand(branch)]
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            if hi > 1:
                raise Unsupported("repeat")
            inner = _expand(sub)
            alts = ([""] if lo == 0 else []) + inner
        else:
            raise Unsupported(str(op))
        out = [a + b for a in out for b in alts]
        if len(out) > MAX_PHRASES_PER_RULE * 8:
            raise Unsupported("too many")
    return out


def _segments(seq):
    """Split a top-level sequence at nodes that cannot be expanded."""
    current = []
    for node in seq:
        try:
            _expand([node])
            current.append(node)
        except Unsupported:
            if current:
                yield current
            current = []
    if current:
        yield current


def rule_phrases(pattern: str) -> tuple[list[str], str]:
    """(phrases, how) with how in exact | approximate | truncated | skipped."""
    tree = sre_p.parse(pattern)
    how = "exact"
    try:
        phrases = _expand(tree)
    except Unsupported:
        # Top-level alternation: expand each branch on its own.
        if len(tree) == 1 and tree[0][0] is sre_c.BRANCH:
            phrases = []
            how = "exact"
            for branch in tree[0][1][1]:
                p, h = _phrases_of_seq(branch)
                phrases += p
                if h != "exact":
                    how = "approximate"
        else:
            phrases, how = _phrases_of_seq(tree)
    phrases = sorted({p.lower().strip() for p in phrases if p.strip()}, key=lambda s: (-len(s), s))
    if not phrases:
        return [], "skipped"
    if len(phrases) > MAX_PHRASES_PER_RULE:
        phrases = phrases[:MAX_PHRASES_PER_RULE]
        how = "truncated" if how == "exact" else how
    return phrases, how


def _phrases_of_seq(seq) -> tuple[list[str], str]:
    try:
        return _expand(seq), "exact"
    except Unsupported:
        pass
    best: list[str] = []
    best_len = -1
    for seg in _segments(list(seq)):
        try:
            phrases = _expand(seg)
        except Unsupported:
            continue
        shortest = min((len(p.strip()) for p in phrases), default=0)
        if shortest > best_len and len(phrases) <= MAX_PHRASES_PER_RULE:
            best, best_len = phrases, shortest
    # A segment shorter than 4 characters would fire on almost anything: skip the rule.
    if best_len < 4:
        return [], "skipped"
    return best, "approximate"


def lua_string(s: str) -> str:
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch in "\\\"":
            out.append("\\" + ch)
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append(f"\\{b}")
    return '"' + "".join(out) + '"'


def generate(lexicon_path: Path) -> tuple[str, dict[str, int]]:
    lex = json.loads(lexicon_path.read_text(encoding="utf-8"))
    stats = {"rules": 0, "exact": 0, "approximate": 0, "truncated": 0, "skipped": 0, "phrases": 0}
    lines = ["-- generated by envoy/bench/lua_lexicon.py from envoy/bench/lexicon.json; do not edit", "LEXICON = {"]
    for lang in sorted(lex["languages"]):
        for rule in lex["languages"][lang]:
            stats["rules"] += 1
            phrases, how = rule_phrases(rule["pattern"])
            stats[how] += 1
            if not phrases:
                continue
            stats["phrases"] += len(phrases)
            body = ", ".join(lua_string(p) for p in phrases)
            lines.append(f"  {{{rule['weight']!r}, {{{body}}}}}, -- {rule['id']} ({how})")
    lines.append("}")
    lines.append(
        "LEXICON_STATS = {" + ", ".join(f"{k} = {v}" for k, v in stats.items()) + "}"
    )
    return "\n".join(lines) + "\n", stats


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "lexicon.json"
    text, stats = generate(path)
    sys.stdout.write(text)
    print(json.dumps(stats), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
