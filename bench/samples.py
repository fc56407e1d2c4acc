"""The README's sample phrases on the real default index: does each answer what a coder would?

    python bench/samples.py [--index DIR]

Prints one row per sample (what came first, where the wanted code stands); with ``--check`` it
exits 1 if a sample is not answered as the README says. ``make run`` ends with it.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# phrase, what is wanted, a test of a code, how many places may come before it
SAMPLES = [
    ("heart attack", "I21.9 first", lambda c: c.code == "I21.9", 1),
    ("heart attack, anterior wall", "I21.09 first", lambda c: c.code == "I21.09", 1),
    ("sugar diabetes", "E11.9 first", lambda c: c.code == "E11.9", 1),
    ("broken hip, right side, first visit", "a right-femur fracture, 7th character A, in the top 3",
     lambda c: c.code.startswith("S72.") and c.code.endswith("A") and re.search(r"\bright femur\b", c.title), 3),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", help="index folder (default: the default index)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a sample is answered otherwise")
    a = ap.parse_args(argv)
    from retriever import Retriever

    r = Retriever.load(a.index)
    failed = 0
    print("| phrase | wanted | first answer | wanted code at | ok |")
    print("|---|---|---|---|---|")
    for phrase, wanted, test, within in SAMPLES:
        candidates = r.search(phrase, k=10).candidates
        at = next((i for i, c in enumerate(candidates, 1) if test(c)), None)
        ok = at is not None and at <= within
        failed += not ok
        first = f"{candidates[0].code} {candidates[0].title}" if candidates else "none"
        found = f"{at} ({candidates[at - 1].code})" if at else "not in the top 10"
        print(f"| {phrase} | {wanted} | {first} | {found} | {'yes' if ok else 'NO'} |")
    print(f"\n{len(SAMPLES) - failed} of {len(SAMPLES)} samples answered as the README says")
    return 1 if failed and a.check else 0


if __name__ == "__main__":
    sys.exit(main())
