"""Load on `medcode serve`: N concurrent clients on loopback for a bounded time; prints a table.

Starts the server as a subprocess on 127.0.0.1 (a free port), sends /suggest and FHIR $expand
requests from N threads until the time or the request budget runs out, then stops it.

    .venv/bin/python bench/serve_load.py [--index DIR] [--clients 1 4 16] [--seconds 20]
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import phrases  # noqa: E402  (catalogue strings reworded: realistic, not verbatim)

from retriever import index_files  # noqa: E402

MAX_REQUESTS = 20_000  # per run, whatever the time: the loop always ends


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory(pid: int) -> tuple[float, float]:
    """(current, peak) resident MiB of the server process."""
    now = peak = 0.0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return now, peak


def load(base: str, clients: int, seconds: float, texts: list[str]) -> dict:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    notes: dict[str, int] = {}
    sent = [0]
    lock = threading.Lock()
    deadline = time.time() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            i = n
            while time.time() < deadline:
                with lock:
                    if sent[0] >= MAX_REQUESTS:
                        return
                    sent[0] += 1
                text = texts[i % len(texts)]
                t = time.perf_counter()
                try:
                    if i % 5 == 4:  # one request in five is a FHIR $expand
                        res = http.get("/fhir/ValueSet/$expand", params={"filter": text, "count": 10})
                    else:
                        res = http.post("/suggest", json={"text": text, "k": 10})
                        with lock:
                            note = res.headers.get("x-medcode-rerank", "")
                            notes[note.split(" (")[0]] = notes.get(note.split(" (")[0], 0) + 1
                    ok = res.status_code == 200
                    problem = None if ok else f"HTTP {res.status_code}"
                except httpx.HTTPError as exc:
                    problem = type(exc).__name__
                with lock:
                    latencies.append((time.perf_counter() - t) * 1000)
                    if problem:
                        errors.append(problem)
                i += clients

    started = time.time()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.time() - started
    return {"clients": clients, "requests": len(latencies), "seconds": wall, "rps": len(latencies) / wall,
            "p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99)),
            "errors": len(errors), "reranked": notes.get("applied", 0) / max(1, sum(notes.values())),
            "over_budget": notes.get("skipped: over the latency budget", 0) / max(1, sum(notes.values()))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, default=index_files.default_dir())
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 16, 50])
    ap.add_argument("--rerank-budget-ms", type=float, default=None, help="the server's (default: its own)")
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()

    import httpx

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    budget = [] if a.rerank_budget_ms is None else ["--rerank-budget-ms", str(a.rerank_budget_ms)]
    server = subprocess.Popen([sys.executable, "-m", "retriever.cli", "serve", "--index", str(a.index),
                               "--port", str(port), *budget], env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        t = time.time()
        while time.time() - t < 120:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        else:
            raise SystemExit("the server did not come up in 120 s")
        ready_s = time.time() - t
        idle, _ = _memory(server.pid)
        texts = phrases(a.index, 500)
        load(base, 2, 3, texts)  # warm-up
        rows = []
        for n in a.clients:
            row = load(base, n, a.seconds, texts)
            row["rss"], row["peak"] = _memory(server.pid)
            rows.append(row)
    finally:
        server.terminate()
        server.wait(30)

    print(f"medcode serve on 127.0.0.1, index {a.index}; ready in {ready_s:.1f} s, idle RSS {idle:.0f} MiB; "
          f"4 of 5 requests POST /suggest k=10, 1 of 5 GET /fhir/ValueSet/$expand count=10; "
          f"{a.seconds:g} s per row, {os.cpu_count()} cores")
    print("| clients | requests | requests/s | p50 ms | p99 ms | errors | /suggest reranked | over the budget "
          "| server RSS MiB | peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['clients']} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | "
              f"{r['errors']} | {r['reranked']:.0%} | {r['over_budget']:.0%} | {r['rss']:.0f} | {r['peak']:.0f} |")


if __name__ == "__main__":
    main()
