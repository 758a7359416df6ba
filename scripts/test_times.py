#!/usr/bin/env python3
"""Passes `cargo test` output through unchanged and writes how long each test binary ran.

cargo prints `Running tests/x.rs (target/...)` (or `Running unittests src/lib.rs ...`,
`Doc-tests emo`) before each binary; a binary's time is from its line to the next one (or
to the end). Written to the file named by the first argument, one `name seconds` a line.
"""
import sys
import time


def main(out_path: str) -> None:
    times: list[tuple[str, float]] = []
    current, since = None, time.monotonic()
    for line in sys.stdin:
        sys.stdout.write(line)
        words = line.split()
        if words[:1] in (["Running"], ["Doc-tests"]):
            now = time.monotonic()
            if current:
                times.append((current, now - since))
            if words[0] == "Doc-tests":
                current = "doc-tests"
            else:
                current = words[2] if words[1] == "unittests" else words[1]
            since = now
    if current:
        times.append((current, time.monotonic() - since))
    with open(out_path, "w") as f:
        for name, secs in times:
            f.write(f"{name} {secs:.0f}\n")


if __name__ == "__main__":
    main(sys.argv[1])
