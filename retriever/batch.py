"""``medcode batch``: a registry's worth of phrases or notes, block by block, resumable.

The input is cut into blocks of ``block_size`` rows. Each block is answered by ``Worker`` (the
index loaded once per worker) and written as one file, ``part-NNNNN.jsonl``, through a temporary
name and a rename: a part on disk is always complete. ``_medcode_batch.json`` records the run's
settings and the finished blocks (rewritten atomically after each); a rerun with the same output
folder skips the finished blocks and does the rest, so a run killed midway costs only the blocks
in flight. The ``local`` engine runs the blocks in this process; the ``ray`` engine hands them to
a pool of Ray Data actors (``map_batches``), each holding its own ``Worker``: the same function
on the same blocks, so the same answers.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from .errors import MedcodeError, QueryError

KINDS = ("phrases", "notes")
ENGINES = ("local", "ray")
STATE = "_medcode_batch.json"
DEFAULT_BLOCK = 1000


class BatchError(MedcodeError):
    """Input, output folder or settings that a batch cannot run with; the message says which."""


def part_name(block: int) -> str:
    return f"part-{block:05d}.jsonl"


# -- input ---------------------------------------------------------------------------------
def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def plan_blocks(path: Path, block_size: int) -> list[dict]:
    """One pass over the input: each block's place in it, checked line by line.

    JSONL (``{"id", "text"}`` a line) and plain text (a phrase a line; its id is the line number)
    are read by byte offsets, so a worker reads its own block and the driver holds none of the
    text; Parquet (columns ``id``, ``text``) by row ranges."""
    if not path.is_file():
        raise BatchError(f"no input file at {path}")
    if _is_parquet(path):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise BatchError("Parquet input needs pyarrow: pip install 'medcode[ray]'") from None
        try:
            meta = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several kinds for a file that is not Parquet
            raise BatchError(f"{path}: not a Parquet file ({exc})") from None
        names = set(meta.schema_arrow.names)
        if not {"id", "text"} <= names:
            raise BatchError(f"{path}: Parquet input needs columns 'id' and 'text' (it has {', '.join(sorted(names))})")
        rows = meta.metadata.num_rows
        return [{"block": i, "rows": [a, min(a + block_size, rows)]} for i, a in enumerate(range(0, rows, block_size))]
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    blocks, start, count, ids = [], 0, 0, set()
    with open(path, "rb") as f:
        offset = 0
        for n, raw in enumerate(f, 1):
            line = _decode(raw, path, n)
            if not line.strip():
                raise BatchError(f"{path}:{n}: empty line (one {'object' if jsonl else 'phrase'} a line)")
            if jsonl:
                row = id_text_row(line, path, n)
                key = json.dumps(row["id"])
                if key in ids:
                    raise BatchError(f"{path}:{n}: id {row['id']!r} is given twice (each input needs its own id)")
                ids.add(key)
            if count == 0:
                start = offset
            count += 1
            offset += len(raw)
            if count == block_size:
                blocks.append({"block": len(blocks), "bytes": [start, offset], "first_line": n - count + 1,
                               "count": count})
                count = 0
        if count:
            blocks.append({"block": len(blocks), "bytes": [start, offset], "first_line": n - count + 1,
                           "count": count})
    if not blocks:
        raise BatchError(f"{path} is empty: give one {'JSON object' if jsonl else 'phrase'} a line")
    return blocks


def _decode(raw: bytes, path: Path, n: int) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise BatchError(f"{path}:{n}: not UTF-8 text") from None


def id_text_row(line: str, path: Path | str, n: int) -> dict:
    """Line ``n`` of an input file as ``{"id", "text", ...}``, or an error naming file and line."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BatchError(f"{path}:{n}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("text"), str):
        raise BatchError(f'{path}:{n}: expected {{"id": ..., "text": "..."}}')
    return row


def read_block(path: Path, block: dict) -> list[dict]:
    """The rows of one block, ``{"id", "text"}`` each."""
    if "rows" in block:
        a, b = block["rows"]
        return _parquet(str(path)).slice(a, b - a).to_pylist()
    a, b = block["bytes"]
    with open(path, "rb") as f:
        f.seek(a)
        lines = f.read(b - a).decode("utf-8").splitlines()
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return [json.loads(line) for line in lines]
    first = block["first_line"]
    return [{"id": first + i, "text": line} for i, line in enumerate(lines)]


@lru_cache(maxsize=1)
def _parquet(path: str):
    """The Parquet input's two columns, read once per worker."""
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=["id", "text"])


def fingerprint(path: Path) -> str:
    """Size and SHA-256 of the input: a rerun must read the same input to reuse finished blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return f"{path.stat().st_size}:{h.hexdigest()}"


# -- the work of one block -----------------------------------------------------------------
class Worker:
    """What one engine worker holds: the index, loaded once, and the settings of the run."""

    def __init__(self, index: str | None, kind: str, k: int, rerank: bool | None, language: str):
        from .search import Retriever

        self.retriever = Retriever.load(index)
        self.kind, self.k, self.rerank, self.language = kind, k, rerank, language
        self.coder = None
        if kind == "notes":
            from notes import NoteCoder

            self.coder = NoteCoder(self.retriever)

    def answer(self, rows: list[dict]) -> list[dict]:
        """One answer per row, in order: the object ``medcode search --output`` writes for a
        phrase, the one ``medcode code --json`` prints for a note, with the row's id first; a row
        that cannot be answered gets ``"error"`` and the rest go on."""
        from .search import check_query

        if self.kind == "notes":
            out = []
            for row in rows:
                try:
                    out.append({"id": row["id"], **self.coder.code(row["text"], self.language,
                                                                    rerank=self.rerank).as_dict()})
                except QueryError as exc:
                    out.append({"id": row["id"], "codes": [], "error": str(exc)})
            return out
        good, out = [], [None] * len(rows)
        for i, row in enumerate(rows):
            try:
                good.append((i, check_query(row["text"])))
            except QueryError as exc:
                out[i] = {"id": row["id"], "query": row["text"] if isinstance(row["text"], str) else None,
                          "candidates": [], "error": str(exc)}
        results = self.retriever.search_batch([t for _, t in good], self.k, rerank=self.rerank) if good else []
        for (i, _), result in zip(good, results):
            out[i] = {"id": rows[i]["id"], **result.as_dict()}
        return out


def write_part(out: Path, block: int, answers: list[dict]) -> None:
    """One block's answers, complete or not at all: written aside, then renamed into place."""
    final = out / part_name(block)
    tmp = out / f".{final.name}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for a in answers:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)


def do_block(worker: Worker, source: Path, out: Path, block: dict) -> dict:
    """Read, answer and write one block; what the engines call, the same on each."""
    answers = worker.answer(read_block(source, block))
    write_part(out, block["block"], answers)
    return {"block": block["block"], "rows": len(answers), "errors": sum("error" in a for a in answers)}


# -- the run -------------------------------------------------------------------------------
def _settings(source: Path, index: str | None, kind: str, k: int, rerank: bool | None, language: str,
              block_size: int) -> dict:
    from . import index_files as files

    directory = Path(index).expanduser() if index else files.default_dir()
    manifest = files.read_manifest(directory)
    return {"input": str(source.resolve()), "input_fingerprint": fingerprint(source), "kind": kind, "k": k,
            "rerank": rerank, "language": language, "block_size": block_size, "index": str(directory),
            "index_built_at": manifest.get("built_at"), "model": manifest["model"]["name"]}


def _write_state(out: Path, state: dict) -> None:
    tmp = out / f".{STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
    os.replace(tmp, out / STATE)


def _resume(out: Path, settings: dict, blocks: int) -> dict:
    """The state of this output folder: a new one, or the finished blocks of the same run."""
    path = out / STATE
    if path.is_file():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BatchError(f"{path} cannot be read ({exc}): give a new --output folder") from None
        if state.get("settings") != settings:
            changed = sorted(k for k in settings if state.get("settings", {}).get(k) != settings[k])
            raise BatchError(f"{out} holds another run (its {', '.join(changed)} differ): give a new --output "
                             "folder, or the same input and settings to resume it")
        # a finished block is one the state lists and whose part is on disk
        state["done"] = {b: n for b, n in state["done"].items() if (out / part_name(int(b))).is_file()}
        # what a killed run was writing aside (write_part, _write_state) was never renamed into place
        for stale in out.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        return state
    if out.exists() and any(p.name.startswith("part-") for p in out.iterdir()):
        raise BatchError(f"{out} holds part files of another run: give a new --output folder")
    out.mkdir(parents=True, exist_ok=True)
    state = {"settings": settings, "blocks": blocks, "done": {}}
    _write_state(out, state)
    return state


def run(source: str | Path, output: str | Path, *, kind: str = "phrases", engine: str = "local",
        index: str | None = None, k: int = 10, rerank: bool | None = None, language: str = "en",
        block_size: int = DEFAULT_BLOCK, workers: int = 1, address: str | None = None,
        progress: bool = True) -> dict:
    """Answer every input row once, into ``output``; returns counts and throughput."""
    if kind not in KINDS:
        raise BatchError(f"unknown kind {kind!r} (choose from {', '.join(KINDS)})")
    if engine not in ENGINES:
        raise BatchError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    if block_size < 1 or workers < 1:
        raise BatchError("--batch-size and --workers must be at least 1")
    source, out = Path(source).expanduser(), Path(output).expanduser()
    if out.exists() and not out.is_dir():
        raise BatchError(f"--output {out} is a file: give a folder")
    blocks = plan_blocks(source, block_size)
    state = _resume(out, _settings(source, index, kind, k, rerank, language, block_size), len(blocks))
    todo = [b for b in blocks if str(b["block"]) not in state["done"]]
    started = time.perf_counter()
    total_rows = sum(_rows_of(b) for b in blocks)
    before = sum(n["rows"] for n in state["done"].values())
    from tqdm.auto import tqdm

    with tqdm(total=total_rows, initial=before, desc=f"medcode batch ({engine})", unit=kind[:-1],
              disable=not progress, file=sys.stderr) as bar:
        for finished in (_local(todo, source, out, index, kind, k, rerank, language) if engine == "local" else
                         _ray(todo, source, out, index, kind, k, rerank, language, workers, address)):
            state["done"][str(finished["block"])] = {"rows": finished["rows"], "errors": finished["errors"]}
            _write_state(out, state)
            bar.update(finished["rows"])
    seconds = time.perf_counter() - started
    done_now = sum(state["done"][str(b["block"])]["rows"] for b in todo)
    return {"inputs": total_rows, "outputs": sum(n["rows"] for n in state["done"].values()),
            "failures": sum(n["errors"] for n in state["done"].values()), "blocks": len(blocks),
            "blocks_skipped": len(blocks) - len(todo), "answered_now": done_now, "seconds": round(seconds, 2),
            "per_second": round(done_now / seconds, 1) if seconds > 0 and done_now else 0.0, "output": str(out),
            "engine": engine}


def _rows_of(block: dict) -> int:
    return block["rows"][1] - block["rows"][0] if "rows" in block else block["count"]


def _local(todo, source, out, index, kind, k, rerank, language) -> Iterator[dict]:
    if not todo:
        return
    worker = Worker(index, kind, k, rerank, language)
    for block in todo:
        yield do_block(worker, source, out, block)


class _RayActor:
    """A Ray Data actor: one ``Worker`` for its life; each call answers the blocks it is given."""

    def __init__(self, source: str, out: str, index: str | None, kind: str, k: int, rerank, language: str,
                 cpus: int = 1):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        # the actor's share of the cores, for ONNX Runtime and FAISS alike (Ray sets OMP_NUM_THREADS
        # from num_cpus; ONNX Runtime would otherwise take every core of the node)
        os.environ["MEDCODE_THREADS"] = str(cpus)
        import faiss

        faiss.omp_set_num_threads(cpus)
        self.source, self.out = Path(source), Path(out)
        self.worker = Worker(index, kind, k, rerank, language)

    def __call__(self, batch: dict) -> dict:
        done = [do_block(self.worker, self.source, self.out, json.loads(b)) for b in batch["plan"]]
        return {"block": [d["block"] for d in done], "rows": [d["rows"] for d in done],
                "errors": [d["errors"] for d in done]}


def _ray(todo, source, out, index, kind, k, rerank, language, workers, address) -> Iterator[dict]:
    if not todo:
        return
    try:
        import ray
        import ray.data
    except ImportError:
        raise BatchError("--engine ray needs Ray Data: pip install 'medcode[ray]'") from None
    import logging

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started_here = not ray.is_initialized()
    if started_here:
        kw = {"address": address} if address else {"num_cpus": max(workers, os.cpu_count() or 1)}
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR, **kw)
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # medcode's own bar counts rows as blocks finish
        plan = ray.data.from_items([{"plan": json.dumps(b)} for b in todo], override_num_blocks=len(todo))
        # each actor gets an equal share of the cluster's cores (one actor on two cores uses both)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
        answered = plan.map_batches(
            _RayActor, batch_size=1, concurrency=workers, num_cpus=cpus,
            fn_constructor_kwargs={"source": str(source.resolve()), "out": str(out.resolve()), "index": index,
                                   "kind": kind, "k": k, "rerank": rerank, "language": language, "cpus": cpus})
        for row in answered.iter_rows():
            yield {"block": int(row["block"]), "rows": int(row["rows"]), "errors": int(row["errors"])}
    finally:
        if started_here:
            ray.shutdown()
