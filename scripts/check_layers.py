#!/usr/bin/env python3
"""The layering docs/design.md promises, checked on the code (run by `make test`).

- No import circles between the files of src/ (a `use crate::…`, `super::…` or a
  path written inline counts as an import of the file that defines the module it
  names; a folder's mod.rs and its own children are one room and not checked
  against each other) and none among scripts/*.py and scripts/spark/*.py.
- No command module imports another: src/commands/<name>.rs may use
  src/commands/load.rs, study.rs, task.rs and the library, never a sibling command.

Prints one line per problem and exits 1, or one summary line and exits 0.
Python 3 standard library only.
"""
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
SHARED_BY_COMMANDS = {"load", "study", "task", "mod"}


def module_of(path: Path) -> tuple:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def rust_files() -> dict:
    return {module_of(p): p for p in sorted(SRC.rglob("*.rs"))}


PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^}]*)\}", re.S)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def rust_edges(files: dict) -> dict:
    edges = {m: set() for m in files}
    for mod, path in files.items():
        # Unit tests (at the end of a file, under #[cfg(test)]) may reach anywhere.
        text = strip_comments(path.read_text().split("#[cfg(test)]")[0])
        here = mod
        paths = []
        for root, prefix, inner in GROUP.findall(text):
            for item in inner.split(","):
                item = item.strip().split(" as ")[0].strip()
                if item and item != "self":
                    paths.append((root, prefix + "::" + item.replace(" ", "")))
                elif item == "self":
                    paths.append((root, prefix))
        paths += PATH.findall(text)
        for root, rest in paths:
            segs = [s for s in rest.split("::") if s]
            # `super` is the parent of this file's module (for a mod.rs too: its
            # module is the folder, whose parent is one level up).
            base = list(here[:-1]) if root == "super" else []
            full = base + segs
            # The longest prefix that is a module file.
            target = None
            for n in range(len(full), -1, -1):
                if tuple(full[:n]) in files:
                    target = tuple(full[:n])
                    break
            if target is None or target == mod:
                continue
            # A folder's mod.rs and its children are one room.
            if target == mod[:-1] or mod == target[:-1]:
                continue
            edges[mod].add(target)
    return edges


def python_edges() -> dict:
    scripts = sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "scripts/spark").glob("*.py"))
    by_name = {p.stem: p for p in scripts}
    edges = {p.stem: set() for p in scripts}
    for p in scripts:
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module.split(".")[0]]
            for n in names:
                if n in by_name and n != p.stem:
                    edges[p.stem].add(n)
    return edges


def circles(edges: dict) -> list:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    files = rust_files()
    edges = rust_edges(files)
    name = lambda m: str(files[m].relative_to(ROOT))
    problems = []
    for comp in circles(edges):
        problems.append("import circle: " + " ↔ ".join(name(m) for m in comp))
    for mod, targets in sorted(edges.items()):
        if len(mod) == 2 and mod[0] == "commands" and mod[1] not in SHARED_BY_COMMANDS:
            for t in sorted(targets):
                if len(t) == 2 and t[0] == "commands" and t[1] not in SHARED_BY_COMMANDS:
                    problems.append(f"{name(mod)}: a command imports another command ({name(t)}); move what both need into src/commands/load.rs or a library module")
    py = python_edges()
    for comp in circles(py):
        problems.append("import circle: " + " ↔ ".join(f"scripts/{c}.py" for c in comp))
    for p in problems:
        print(p)
    if problems:
        return 1
    n_rs = sum(len(t) for t in edges.values())
    n_py = sum(len(t) for t in py.values())
    print(f"layers: {len(files)} Rust files ({n_rs} imports) and {len(py)} scripts ({n_py} imports): no circles, no command imports another")
    return 0


if __name__ == "__main__":
    sys.exit(main())
