#!/usr/bin/env python3
"""Fails when the top-level modules of filter/src import each other in a loop.

A module is a file or folder directly under filter/src (`policy.rs` with `policy/` is one
module). An edge `a -> b` is any `crate::b` path in a's non-test code (test modules and files
named `tests.rs` are left out: a test may reach anywhere). Prints every loop (strongly connected
component) with the files behind each edge, and exits 1 if there is one.

    python3 filter/tools/import_cycles.py            # the check `make lint` runs
    python3 filter/tools/import_cycles.py --edges    # also print the whole graph
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
ROOTS = {"lib", "main"}
TEST_MODULE = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod \w+\s*\{")
CRATE_PATH = re.compile(r"crate::(\w+)")
CRATE_GROUP = re.compile(r"crate::\{([^;]*?)\};", re.S)
GROUP_HEAD = re.compile(r"(?:^|[{,])\s*(\w+)")


def modules() -> set[str]:
    names = {p.stem for p in SRC.glob("*.rs")} | {p.name for p in SRC.iterdir() if p.is_dir()}
    return names - ROOTS


def non_test_code(text: str) -> str:
    """The text before the first `#[cfg(test)] mod ... {`: test modules close the files here."""
    match = TEST_MODULE.search(text)
    return text if match is None else text[: match.start()]


def graph(names: set[str]) -> dict[str, dict[str, set[str]]]:
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(SRC.rglob("*.rs")):
        rel = path.relative_to(SRC)
        owner = rel.parts[0].removesuffix(".rs")
        if owner in ROOTS or path.name == "tests.rs" or "tests" in rel.parts[:-1]:
            continue
        code = non_test_code(path.read_text())
        targets = set(CRATE_PATH.findall(code))
        for group in CRATE_GROUP.findall(code):
            targets |= set(GROUP_HEAD.findall(group))
        for target in targets & names - {owner}:
            edges[owner][target].add(str(rel))
    return edges


def components(names: set[str], edges) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(names):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(sorted(component))
    return found


def main() -> int:
    names = modules()
    edges = graph(names)
    if "--edges" in sys.argv:
        for source in sorted(edges):
            print(f"{source} -> {', '.join(sorted(edges[source]))}")
    loops = [c for c in components(names, edges) if len(c) > 1]
    for loop in loops:
        print(f"import loop in filter/src: {' <-> '.join(loop)}")
        for source in loop:
            for target in sorted(edges[source]):
                if target in loop:
                    files = ", ".join(sorted(edges[source][target]))
                    print(f"  {source} -> {target}  ({files})")
    if loops:
        return 1
    print(f"filter/src: {len(names)} modules, no import loop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
