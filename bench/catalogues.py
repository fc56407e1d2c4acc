"""Build time, memory and size of every catalogue medcode reads, each built from scratch (empty
embedding cache) in its own process, then loaded in a fresh one.

    .venv/bin/python bench/catalogues.py [--only icd10cm,ops] [--model NAME|PATH]

The catalogues not shipped with medcode are read from ../shared/benchdata (skipped when absent).
Prints one Markdown table: codes, strings, build seconds, build peak RSS, index size on disk,
load seconds, process RSS after load, and the p50 of 50 single searches.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "benchdata" / "catalogs"

CATALOGUES = {  # name: (label, --catalog value, BM25 language, file it needs or None)
    "icd10cm": ("ICD-10-CM 2026 (built in)", "icd10cm", "en", None),
    "icd10who": ("WHO ICD-10 2019 (built in)", "icd10who", "en", None),
    "icd10gm": ("ICD-10-GM 2024 (EDV)", f"edv:{DATA / 'icd10gm_2024' / 'icd10gm2024syst_kodes.txt'}", "de",
                DATA / "icd10gm_2024" / "icd10gm2024syst_kodes.txt"),
    "ops": ("OPS 2023 (MAPCARE extract)", str(ROOT / "catalogs" / "ops-2023-mapcare-de.yaml"), "de",
            DATA / "ops_2023_mapcare" / "ops_parsed.csv"),
    "icdo3-es": ("ICD-O-3.1 morphology, Spanish", str(ROOT / "catalogs" / "icdo3-cantemist-es.yaml"), "es",
                 DATA / "icdo3_cantemist_es" / "valid-codes.tsv"),
    "icdo3-en": ("ICD-O-3 morphology, English (WHO)", str(ROOT / "catalogs" / "icdo3-who-morphology-en.yaml"), "en",
                 DATA / "icdo3_who_en" / "Morphenglish.txt"),
}

BUILD = """
import json, resource, sys, time
from index_build.build import build
t = time.perf_counter()
m = build([sys.argv[1]], sys.argv[2], sys.argv[4] or None, cache=sys.argv[3], language=sys.argv[5], progress=False)
print(json.dumps({"seconds": time.perf_counter() - t, "codes": m["counts"]["suggestable"],
                  "strings": m["counts"]["strings"], "model": m["model"]["name"],
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LOAD = """
import json, resource, sys, time
import numpy as np
from retriever import Retriever
t = time.perf_counter()
r = Retriever.load(sys.argv[1])
loaded = time.perf_counter() - t
titles = r.entries.title[:: max(1, len(r.entries) // 50)][:50]
times = []
for q in titles:
    t = time.perf_counter()
    r.search(q, 10)
    times.append((time.perf_counter() - t) * 1000)
rss = int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
print(json.dumps({"load_seconds": loaded, "rss_mib": rss, "search_p50_ms": float(np.median(times))}))
"""


def run(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help=f"comma-separated, from {', '.join(CATALOGUES)}")
    ap.add_argument("--model", default="", help="encoder (default: the embedded MiniLM)")
    a = ap.parse_args()
    names = a.only.split(",") if a.only else list(CATALOGUES)
    rows = []
    for name in names:
        label, catalog, language, needs = CATALOGUES[name]
        if needs is not None and not needs.exists():
            print(f"skipped {name}: {needs} is not there", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            index = Path(tmp) / "index"
            print(f"building {name} ...", file=sys.stderr, flush=True)
            built = run(BUILD, catalog, str(index), str(Path(tmp) / "cache"), a.model, language)
            size = sum(f.stat().st_size for f in index.rglob("*") if f.is_file()) / 2**20
            loaded = run(LOAD, str(index))
        rows.append((label, built, size, loaded))
    print(f"model {rows[0][1]['model'] if rows else '-'}; each build from an empty embedding cache, 2 CPU cores\n")
    print("| catalogue | codes | strings | build s | build peak RSS MiB | index MiB | load s | RSS loaded MiB | search p50 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, b, size, l in rows:
        print(f"| {label} | {b['codes']:,} | {b['strings']:,} | {b['seconds']:.0f} | {b['peak_mib']:.0f} | {size:.0f} | "
              f"{l['load_seconds']:.1f} | {l['rss_mib']:.0f} | {l['search_p50_ms']:.1f} |")


if __name__ == "__main__":
    main()
