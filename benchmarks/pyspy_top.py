"""Top functions of a py-spy profile in raw (collapsed stack) form, as throughput.py --py-spy writes.

    python benchmarks/pyspy_top.py FILE [FILE ...] [--top 20] [--under network/]

Each line of such a file is `frame;frame;...;frame COUNT`, a frame being `function (file:line)`.
Prints, per file, the share of samples spent in each function itself (self) and in it or anything
it called (inclusive), with line numbers dropped so a function's lines add up.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME_LINE = re.compile(r":\d+\)$")


@dataclass(frozen=True)
class Profile:
    """Sample counts of one profile: total, by function itself, and by function with callees."""

    total: int
    self_samples: Counter[str]
    inclusive: Counter[str]


def _frame(raw: str) -> str:
    return _FRAME_LINE.sub(")", raw.strip())


def read_profile(lines: Iterable[str]) -> Profile:
    """Fold collapsed stacks into per-function counts."""
    total = 0
    self_samples: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in lines:
        match = _LINE.match(line.rstrip("\n"))
        if not match:
            continue
        frames = [_frame(f) for f in match.group(1).split(";") if f]
        count = int(match.group(2))
        total += count
        if frames:
            self_samples[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return Profile(total, self_samples, inclusive)


def format_profile(name: str, profile: Profile, top: int, under: Sequence[str]) -> str:
    """The top functions by self and by inclusive share; `under` limits inclusive to those paths."""
    if not profile.total:
        return f"{name}: no samples"
    lines = [f"{name}: {profile.total} samples"]
    lines.append("  self:")
    for frame, count in profile.self_samples.most_common(top):
        lines.append(f"    {100 * count / profile.total:5.1f}%  {frame}")
    lines.append("  inclusive" + (f" (frames in {', '.join(under)})" if under else "") + ":")
    shown = 0
    for frame, count in profile.inclusive.most_common():
        if under and not any(u in frame for u in under):
            continue
        lines.append(f"    {100 * count / profile.total:5.1f}%  {frame}")
        shown += 1
        if shown == top:
            break
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--under", action="append", default=[], help="path fragment, e.g. network/")
    args = parser.parse_args(argv)
    for path in args.files:
        with open(path) as f:
            print(format_profile(path.name, read_profile(f), args.top, args.under))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
