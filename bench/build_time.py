"""Index build time on full ICD-10-CM: from scratch (empty embedding cache), then after a small
catalogue change (a few codes added), which should embed only the new strings.

    .venv/bin/python bench/build_time.py
"""
from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

from index_build.build import build

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        for label, catalogs in (("from scratch (empty cache)", ["icd10cm"]),
                                ("a few codes changed (+14 codes, cache warm)",
                                 ["icd10cm", str(ROOT / "catalogs" / "example.yaml")]),
                                ("nothing changed (cache warm)", ["icd10cm"])):
            t = time.perf_counter()
            m = build(catalogs, tmp / "index", cache=tmp / "cache")
            rows.append((label, time.perf_counter() - t, m["counts"]["strings"], m["counts"]["newly_embedded"]))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ICD-10-CM 2026, model {m['model']['name']}, dense index {m['dense']['index']}; "
          f"peak memory {peak:.0f} MiB\n")
    print("| build | seconds | strings | newly embedded |")
    print("|---|---:|---:|---:|")
    for label, seconds, strings, new in rows:
        print(f"| {label} | {seconds:.0f} | {strings} | {new} |")


if __name__ == "__main__":
    main()
