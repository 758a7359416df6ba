#!/usr/bin/env python3
"""Check that every relative link and image in the documentation resolves.

Checked files: README.md, docs/**/*.md, reports/README.md, and any other tracked *.md outside
reports/ and .deps/ (reports/ holds generated reports; their links are the generators'
business). In each, every Markdown link or image `[text](target)`, reference definition
`[label]: target` and HTML `src="…"`/`href="…"` outside code must name an existing file or
folder inside the repository, and a `#fragment` into a Markdown file (or the same file) must
match one of its headings as GitHub slugs them: lowercase, punctuation other than `-` and `_`
dropped, spaces to `-`, a repeated heading suffixed -1, -2, …. Links with a scheme (https:,
mailto:) are not fetched.

Prints one line per broken link, "FILE:LINE: broken link TARGET (why)", and exits 1 if there
is any; otherwise prints "links: N checked, 0 broken" and exits 0. Python 3.11 standard
library only, so that `make test` can run it before anything is installed.

    python3 scripts/check_links.py [--root DIR]
"""
import argparse
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

# [text](target) and ![alt](target); the target may be <bracketed> and followed by a "title".
INLINE = re.compile(r"\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""")
HTML_ANCHOR = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
SKIPPED_DIRS = {".git", ".deps", "target", "reports", "node_modules", "__pycache__"}


def prose_lines(text: str):
    """(line number, line) for every line outside fenced code blocks, with inline code
    spans blanked out, so that code never counts as a link or a heading."""
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
                continue
            if mark[0] == fence[0] and len(mark) >= len(fence):
                fence = None
                continue
        if fence is not None:
            continue
        yield n, re.sub(r"(`+)(.+?)\1", lambda c: " " * len(c.group(0)), line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "")
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w keeps letters and digits of any script, and _
    return text.replace(" ", "-")


def anchors(path: Path, cache: dict) -> set:
    if path not in cache:
        found, seen = set(), {}
        text = path.read_text(encoding="utf-8")
        lines = list(prose_lines(text))
        raw = text.split("\n")
        for i, (n, line) in enumerate(lines):
            heading = None
            m = ATX.match(line)
            if m:
                heading = raw[n - 1].strip().lstrip("#").strip().rstrip("#").strip()
            elif (i + 1 < len(lines) and lines[i + 1][0] == n + 1 and line.strip()
                  and not line.lstrip().startswith(("|", "-", "*", ">"))
                  and re.fullmatch(r"\s{0,3}(=+|-+)\s*", lines[i + 1][1])):
                heading = raw[n - 1].strip()  # setext: the line under it is === or ---
            if heading is not None:
                base = slug(heading)
                k = seen.get(base, 0)
                seen[base] = k + 1
                found.add(base if k == 0 else f"{base}-{k}")
            found.update(HTML_ANCHOR.findall(line))
        cache[path] = found
    return cache[path]


def targets(line: str):
    for rx in (INLINE, REFERENCE, HTML):
        for m in rx.finditer(line):
            t = m.group(1)
            yield t[1:-1] if t.startswith("<") and t.endswith(">") else t


def files_to_check(root: Path) -> list:
    files = {root / "README.md", root / "reports" / "README.md"}
    files.update((root / "docs").rglob("*.md"))
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--", "*.md"],
                                capture_output=True, check=True).stdout.decode().split("\0")
        others = [root / p for p in listed if p]
    except (OSError, subprocess.CalledProcessError):
        others = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
            others += [Path(dirpath) / f for f in filenames if f.endswith(".md")]
    for p in others:
        top = p.relative_to(root).parts[0]
        if top not in ("reports", ".deps", "target"):
            files.add(p)
    return sorted(p for p in files if p.is_file())


def check(root: Path) -> int:
    root = root.resolve()
    cache, checked, broken = {}, 0, 0
    for md in files_to_check(root):
        rel = md.relative_to(root)
        for n, line in prose_lines(md.read_text(encoding="utf-8")):
            for target in targets(line):
                if SCHEME.match(target) or target.startswith("//"):
                    continue  # a URL: not ours to fetch
                checked += 1
                path_part, _, fragment = target.partition("#")
                path_part = urllib.parse.unquote(path_part)
                dest = (md.parent / path_part).resolve() if path_part else md
                why = None
                if root != dest and root not in dest.parents:
                    why = "outside the repository"
                elif not dest.exists():
                    why = "no such file"
                elif fragment and dest.suffix == ".md" and dest.is_file():
                    if urllib.parse.unquote(fragment) not in anchors(dest, cache):
                        why = f"no heading #{fragment} in {dest.relative_to(root)}"
                if why:
                    broken += 1
                    print(f"{rel}:{n}: broken link {target} ({why})")
    print(f"links: {checked} checked, {broken} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                    help="the repository to check (default: this one)")
    sys.exit(check(ap.parse_args().root))
