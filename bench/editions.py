"""A yearly update: build ICD-10-GM 2019, then rebuild with 2020 reusing the embedding cache, and
`medcode diff` the two (the code-title lists in ../shared/benchdata, read by a delimited spec).
Prints build times, strings newly embedded and the diff counts.

    .venv/bin/python bench/editions.py
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gold  # noqa: E402
from index_build.build import build  # noqa: E402
from index_build.diff import diff  # noqa: E402

LISTS = gold.BENCHDATA / "catalogs" / "icd10gm_2019_2020_codetitle"


def spec(year: str) -> Path:
    path = HERE / "out" / f"icd10gm-{year}-codetitle.yaml"
    path.write_text(f"format: delimited\nfile: {LISTS / f'{year}.txt'}\nsystem: ICD-10-GM\nversion: \"{year}\"\n"
                    "delimiter: \";\"\ncolumns: {code: 1, title: 2}\n", encoding="utf-8")
    return path


def main() -> None:
    out = HERE / "out"
    cache = out / "cache-editions"
    shutil.rmtree(cache, ignore_errors=True)  # the first build starts cold
    rows = []
    for year in ("2019", "2020"):
        t = time.time()
        m = build([str(spec(year))], out / f"icd10gm-{year}", cache=cache, language="de")
        rows.append((year, time.time() - t, m["counts"]["strings"], m["counts"]["newly_embedded"]))
    t = time.time()
    d = diff(out / "icd10gm-2019", [str(spec("2020"))])
    diff_s = time.time() - t
    print("| build | seconds | strings | newly embedded |")
    print("|---|---:|---:|---:|")
    for year, seconds, strings, new in rows:
        print(f"| ICD-10-GM {year}{' (cache from 2019)' if year == '2020' else ' (cold cache)'} | {seconds:.1f} | "
              f"{strings} | {new} |")
    c = d["counts"]
    print(f"\nmedcode diff 2019 index -> 2020 list ({diff_s:.1f} s): added {c['added']}, removed {c['removed']}, "
          f"retitled {c['retitled']}")
    for name in ("added", "removed", "retitled"):
        for row in d[name][:3]:
            print(f"  {name}: {row['code']} {row['old'] or ''} -> {row['new'] or ''}")


if __name__ == "__main__":
    main()
