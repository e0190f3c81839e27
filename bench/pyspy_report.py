"""Summarise a py-spy raw (collapsed stacks) profile: `python bench/pyspy_report.py bench/results/flowyard.pyspy.txt`.

Prints, per thread name, its share of all samples, then the functions with the most samples (inclusive: the
function is anywhere on the stack; self: it is the innermost frame). Threads that wait show their waiting frames
(py-spy is run without --idle, so idle threads barely appear)."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

THREAD = re.compile(r"^thread \(\w+\)(?::\s*(?P<name>[^;]*))?")


def _thread_group(name: str) -> str:
    # Pool threads are numbered (node_0, node_1, ...): one group for all of them.
    return re.sub(r"_\d+$", "_*", name or "main")


def report(path: Path, top: int = 25) -> str:
    threads: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        match = THREAD.match(frames[0])
        if match:
            thread = _thread_group((match.group("name") or "main").strip())
            frames = frames[1:]
        else:
            thread = "?"
        total += count
        threads[thread] += count
        names = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in frames]
        for name in set(names):
            inclusive[f"{thread}: {name}"] += count
        if names:
            own[f"{thread}: {names[-1]}"] += count
    lines = [f"{path.name}: {total} samples"]
    lines.append("threads:")
    lines += [f"  {100 * c / total:5.1f}%  {t}" for t, c in threads.most_common()]
    lines.append("inclusive (function anywhere on the stack):")
    lines += [f"  {100 * c / total:5.1f}%  {n}" for n, c in inclusive.most_common(top)]
    lines.append("self (innermost frame):")
    lines += [f"  {100 * c / total:5.1f}%  {n}" for n, c in own.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(report(Path(arg)))
