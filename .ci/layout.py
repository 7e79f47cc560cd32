#!/usr/bin/env python3
"""Layout checks a reviewer runs first (issue 16).

1. No source file under a crate's `src/` longer than MAX_LINES lines (test-only files,
   `tests.rs` and `tests/` folders inside src, are exempt: they are scenario lists).
2. No import cycle between the modules of a crate: module files are nodes; an edge A -> B
   means A names an item of B (`use crate::b::X`, `super::X`, `b::X` for a child, or a
   `mod b;` declaration that re-exports from it). Inline `#[cfg(test)] mod tests` blocks
   and test-only files are left out. A cycle means some module imports the file that
   assembles it (or two siblings lean on each other): shared plumbing belongs in a leaf.

Usage: python3 .ci/layout.py [crate_dir ...]   (default: every workspace crate)
Exit status 1 when a check fails.
"""
import os
import re
import sys

MAX_LINES = 600
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = ["vk-core", "vk-core/testing", "vk-translate", "vk-aci", "vk-bin", "benches"]


def is_test_file(rel):
    parts = rel.split(os.sep)
    return parts[-1] == "tests.rs" or "tests" in parts[:-1]


def module_of(rel):
    """src-relative file path -> module path tuple (`lib.rs` -> ())."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("lib", "main") and len(parts) == 1:
        return ()
    if parts[0] == "bin":
        return None
    if parts[-1] == "mod":
        parts = parts[:-1]
    return tuple(parts)


def strip_tests_and_comments(text):
    """Drop line comments, doc comments, string contents and inline cfg(test) modules."""
    out = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("#[cfg(test)]"):
            # skip the next item: a `mod x;` line or a braced block
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith("#["):
                j += 1
            if j < len(lines) and re.match(r"\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*;", lines[j]):
                i = j + 1
                continue
            depth = 0
            started = False
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                if "{" in lines[j]:
                    started = True
                j += 1
                if started and depth <= 0:
                    break
            i = j
            continue
        line = re.sub(r"//.*", "", line)
        line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
        out.append(line)
        i += 1
    return "\n".join(out)


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        items.append(cur)
    result = []
    for it in items:
        for e in expand_use(it):
            result.append(prefix + e)
    return result


def check_crate(crate):
    src = os.path.join(ROOT, crate, "src")
    if not os.path.isdir(src):
        return []
    problems = []
    files = {}
    for dirpath, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                full = os.path.join(dirpath, n)
                rel = os.path.relpath(full, src)
                with open(full, encoding="utf-8") as f:
                    text = f.read()
                count = text.count("\n")
                if not is_test_file(rel) and count > MAX_LINES:
                    problems.append(f"{crate}/src/{rel}: {count} lines (limit {MAX_LINES})")
                if is_test_file(rel):
                    continue
                m = module_of(rel)
                if m is not None:
                    files[m] = (rel, text)
    modules = set(files)
    edges = {m: set() for m in modules}

    def resolve(path):
        """Longest module prefix of an absolute path tuple."""
        for k in range(len(path), -1, -1):
            if path[:k] in modules:
                return path[:k]
        return None

    for m, (rel, text) in files.items():
        body = strip_tests_and_comments(text)
        paths = []
        for use in re.findall(r"\buse\s+([^;]+);", body):
            paths.extend(expand_use(use))
        paths.extend(re.findall(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", body))
        # child modules named bare in code (`child::item(...)`); declaring one with
        # `mod child;` is not a dependency by itself
        for child in re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", body, re.M):
            if m + (child,) in modules:
                paths.extend(re.findall(r"(?<![\w:])(" + child + r"(?:::\w+)+)", body))
        for p in paths:
            segs = [s for s in p.split("::") if s and s != "*"]
            if not segs:
                continue
            if segs[0] == "crate":
                absolute = tuple(segs[1:])
            elif segs[0] in ("super", "self"):
                base = list(m)
                k = 0
                while k < len(segs) and segs[k] in ("super", "self"):
                    if segs[k] == "super":
                        base = base[:-1]
                    k += 1
                absolute = tuple(base) + tuple(segs[k:])
            elif m + (segs[0],) in modules:
                absolute = m + tuple(segs)
            else:
                continue
            target = resolve(absolute)
            if target is not None and target != m:
                # naming a descendant through its parent counts as an edge to the descendant
                edges[m].add(target)
    # Tarjan's SCC
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            strong(v)
    for comp in sccs:
        names = sorted("::".join(c) or "crate" for c in comp)
        detail = []
        for a in sorted(comp):
            for b in sorted(edges[a]):
                if b in comp:
                    detail.append(f"{'::'.join(a) or 'crate'} -> {'::'.join(b) or 'crate'}")
        problems.append(f"{crate}: import cycle between {', '.join(names)}: " + "; ".join(detail))
    return problems


def main():
    crates = sys.argv[1:] or CRATES
    problems = []
    for c in crates:
        problems.extend(check_crate(c.rstrip("/")))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layout problem(s)")
        return 1
    print("layout ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
