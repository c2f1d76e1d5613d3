#!/usr/bin/env python3
"""Fails if a file of a Rust crate imports a file that imports it back, directly or round a loop.

Usage: import_cycles.py CRATE/src [CRATE/src ...]

An edge A -> B when A names a path into module B: `crate::a::b`, `super::x`, `self::x`, or a
child module it declares (`mod x;` then `x::Y`). Comments and `#[cfg(test)] mod tests` are left
out. Names taken from the crate root (`crate::Name`: its re-exports) are not edges: the root is
the crate's facade, and every file may use it.
"""
import os
import re
import sys


def check(src):
    files = {}
    for dirpath, _, names in os.walk(src):
        for n in names:
            if n.endswith('.rs'):
                p = os.path.join(dirpath, n)
                rel = os.path.relpath(p, src)
                parts = rel[:-3].split(os.sep)
                if parts[-1] in ('mod', 'lib', 'main'):
                    parts = parts[:-1]
                files[tuple(parts)] = rel
    def resolve(path):
        # longest prefix of path that is a module file
        for i in range(len(path), -1, -1):
            if tuple(path[:i]) in files:
                return tuple(path[:i])
        return None
    edges = {}
    for mod, rel in files.items():
        text = open(os.path.join(src, rel)).read()
        text = re.sub(r'#\[cfg\(test\)\]\s*mod tests \{.*', '', text, flags=re.S)
        text = re.sub(r'//[^\n]*', '', text)
        targets = set()
        for m in re.finditer(r'\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)', text):
            head, rest = m.group(1), m.group(2)
            path = [p for p in rest.split('::') if p and p != '{']
            if head == 'crate':
                base = []
            elif head == 'super':
                base = list(mod[:-1])
            else:
                base = list(mod)
            full = base + path
            t = resolve(full)
            if t is None or t == mod:
                continue
            if t == ():
                continue
            targets.add(t)
        children = re.findall(r'^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*;', text, flags=re.M)
        for child in children:
            base = list(mod)
            for m in re.finditer(r'(?<![A-Za-z0-9_:])' + child + r'((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)', text):
                path = [child] + [p for p in m.group(1).split('::') if p and p != '{']
                t = resolve(base + path)
                if t is not None and t != mod:
                    targets.add(t)
        edges[mod] = targets
    # cycles: pairs and longer via Tarjan
    index = {}; low = {}; stack = []; on = set(); sccs = []; counter = [0]
    sys.setrecursionlimit(10000)
    def strong(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1:
                sccs.append(comp)
    for v in list(edges):
        if v not in index:
            strong(v)
    name = lambda m: files[m]
    for comp in sccs:
        print('cycle:', ', '.join(sorted(name(m) for m in comp)))
        for a in comp:
            for b in edges[a]:
                if b in comp:
                    print('   ', name(a), '->', name(b))
    return sccs


if __name__ == "__main__":
    found = 0
    for src in sys.argv[1:]:
        cycles = check(src)
        found += len(cycles)
        if not cycles:
            print(f"{src}: no import cycles")
    sys.exit(1 if found else 0)
