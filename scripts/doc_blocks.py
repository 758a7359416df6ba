"""What the scripts that copy committed results into the documentation share: replacing
a generated block between its markers, and the rank correlation their sentences quote.
Python standard library only."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def replace_block(path: pathlib.Path, marker: str, content: str) -> None:
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    text = path.read_text()
    block = f"{begin}\n{content}{end}"
    new, n = re.subn(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    if n != 1:
        raise SystemExit(f"{path.relative_to(ROOT)} needs exactly one {marker} block, has {n}")
    path.write_text(new)
    print(f"{path.relative_to(ROOT)}: {marker} updated")


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""

    def ranks(x):
        order = sorted(range(len(x)), key=lambda i: x[i])
        r = [0.0] * len(x)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb)
