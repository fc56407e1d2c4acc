"""What the HTTP API, the FHIR operations and the MCP tools answer, over one or more loaded indexes.

One lock serialises searches: the encoder and the scorers already use both cores for one query,
and the retriever's caches are not written for concurrent use. Concurrent requests are merged
by ``Batcher`` into one ``search_batch``, where the encoder embeds many phrases for little more
than the cost of one.
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import QueryError
from .search import LEVELS, MAX_K, Filters, Retriever, check_query

FHIR_SYSTEMS = {  # canonical FHIR URLs of the catalogues medcode knows by name
    "ICD-10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD-10": "http://hl7.org/fhir/sid/icd-10",
    "ICD-10-GM": "http://fhir.de/CodeSystem/bfarm/icd-10-gm",
    "OPS": "http://fhir.de/CodeSystem/bfarm/ops",
    "ICD-O-3": "http://terminology.hl7.org/CodeSystem/icd-o-3",
}
EXPLAIN_DEPTH = 200  # how far down the ranking explain looks for the code


class NotFound(QueryError):
    """A code, system or index that is not there; the message says which."""


def system_url(system: str) -> str:
    return FHIR_SYSTEMS.get(system, f"urn:medcode:system:{system}")


def summary(notes: Sequence[str]) -> str:
    """One rerank note for many results: theirs if they agree, else how many were reranked."""
    if len(set(notes)) <= 1:
        return notes[0] if notes else ""
    return f"applied to {sum(n == 'applied' for n in notes)} of {len(notes)}: see each result's rerank"


class Service:
    def __init__(self, retrievers: Sequence[Retriever]):
        if not retrievers:
            raise ValueError("the service needs at least one index")
        self.retrievers = list(retrievers)
        self.lock = threading.Lock()
        self._children: dict[int, dict[int, list[int]]] = {}
        self._coders: dict = {}

    @classmethod
    def load(cls, directories: Sequence[str | Path | None]) -> "Service":
        return cls([Retriever.load(d) for d in (directories or [None])])

    # -- systems ---------------------------------------------------------------------------
    def systems(self) -> list[dict]:
        """Every (system, version) served, with its FHIR URL and index."""
        out, seen = [], set()
        for r in self.retrievers:
            for key in zip(r.entries.system, r.entries.version):
                if key not in seen:
                    seen.add(key)
                    out.append({"system": key[0], "version": key[1], "url": system_url(key[0]),
                                "index": str(r.directory)})
        return out

    def resolve_system(self, name_or_url: str | None) -> str | None:
        """A system given by name, FHIR URL or implicit value set URL (``...?fhir_vs``)."""
        if not name_or_url:
            return None
        wanted = name_or_url.split("?")[0].rstrip("/").lower()
        for s in self.systems():
            if wanted in (s["system"].lower(), s["url"].lower()):
                return s["system"]
        known = ", ".join(sorted({f"{s['system']} ({s['url']})" for s in self.systems()}))
        raise NotFound(f"no catalogue {name_or_url!r} is served here (served: {known})")

    def check_filters(self, filters: dict | None) -> dict:
        """Known filter names only; a system given by name or FHIR URL becomes its name.
        ``levels`` ("assignable" or "all") rides along with the filters."""
        filters = dict(filters or {})
        unknown = set(filters) - set(Filters._fields) - {"levels"}
        if unknown:
            raise QueryError(f"unknown filter {sorted(unknown)[0]!r} (choose from {', '.join(Filters._fields)}, levels)")
        if "levels" in filters and filters["levels"] not in LEVELS:
            raise QueryError(f"levels must be one of {', '.join(LEVELS)}, not {filters['levels']!r}")
        if filters.get("system"):
            filters["system"] = self.resolve_system(filters["system"])
        return filters

    def _holding(self, system: str | None) -> list[Retriever]:
        if system is None:
            return self.retrievers
        return [r for r in self.retrievers if system in r.systems]

    # -- suggest ---------------------------------------------------------------------------
    def suggest_batch(self, texts: Sequence[str], k: int = 10, filters: dict | None = None,
                      details: bool = False, deadline: float | None = None) -> tuple[list[dict], str]:
        """``{"query", "candidates", "rerank"}`` per text (the CLI's JSONL objects and what the
        rerank stage did for it) and one note for all: the common note, else a count.
        With several indexes, their candidates are merged by score. ``deadline``: see
        ``Retriever.search_batch``."""
        filters = self.check_filters(filters)
        with self.lock:
            per_index = [r.search_batch(list(texts), k, deadline=deadline, **filters)
                         for r in self._holding(filters.get("system"))]
        out = []
        for i, text in enumerate(texts):
            candidates = sorted((c for results in per_index for c in results[i].candidates),
                                key=lambda c: -c.score)[:k]
            rows = [c.as_dict() for c in candidates]
            if details:
                for row in rows:
                    row.update(self._context(row["code"], row["system"], row["version"]))
            out.append({"query": per_index[0][i].query, "candidates": rows, "rerank": per_index[0][i].rerank})
        return out, summary([row["rerank"] for row in out])

    def suggest(self, text: str, k: int = 10, filters: dict | None = None, details: bool = False) -> dict:
        results, _ = self.suggest_batch([text], k, filters, details)
        return results[0]

    # -- notes -----------------------------------------------------------------------------
    def code_note(self, text: str, language: str = "en", threshold: float | None = None,
                  system: str | None = None, rerank: bool | None = None) -> dict:
        """A whole note's ranked code set (``notes.NoteCoder``), against the first index that holds
        ``system`` (default: the first index)."""
        from notes import NoteCoder

        holding = self._holding(self.resolve_system(system) if system else None)
        r = holding[0]
        if r not in self._coders:
            self._coders[r] = NoteCoder(r)
        with self.lock:
            return self._coders[r].code(text, language, threshold, rerank=rerank).as_dict()

    # -- lookup ----------------------------------------------------------------------------
    def _find(self, code: str, system: str | None = None, version: str | None = None) -> tuple[Retriever, int]:
        if not isinstance(code, str) or not code.strip():
            raise QueryError("give a code, such as I21.09")
        system = self.resolve_system(system) if system else None
        for r in self._holding(system):
            i = r.entry_index(code.strip(), system, version or None)
            if i >= 0:
                return r, i
        where = (f" in {system}" if system else "") + (f" {version}" if version else "")
        raise NotFound(f"code {code.strip()!r} is not in the catalogue{where}")

    def children_of(self, r: Retriever, entry: int) -> list[int]:
        key = id(r)
        if key not in self._children:
            kids: dict[int, list[int]] = {}
            for i, p in enumerate(r.parent_index):
                if p >= 0:
                    kids.setdefault(int(p), []).append(i)
            self._children[key] = kids
        return self._children[key].get(entry, [])

    def _context(self, code: str, system: str, version: str) -> dict:
        """Hierarchy path and excludes notes (the code's and its ancestors'), for a coder's eye."""
        info = self.lookup(code, system, version)
        return {"path": info["path"], "excludes": info["excludes"]}

    def lookup(self, code: str, system: str | None = None, version: str | None = None) -> dict:
        """The entry of a code in the newest edition served, unless ``version`` pins one."""
        r, i = self._find(code, system, version)
        row = r.entries.record(i)
        path = r.path(row["code"], row["system"], row["version"])
        excludes = []
        for node in path:  # a category's excludes hold for every code under it
            excludes += [{"note": x, "from": node["code"]} for x in node["excludes"]]
        p = r.parent_index[i]
        return {"system": row["system"], "version": row["version"], "url": system_url(row["system"]),
                "code": row["code"], "title": row["title"], "kind": row["kind"], "is_leaf": bool(row["is_leaf"]),
                "usage": row["usage"],
                "parent": None if p < 0 else {"code": r.entries.code[p], "title": r.entries.title[p]},
                "children": [{"code": r.entries.code[c], "title": r.entries.title[c],
                              "is_leaf": bool(r.entries.is_leaf[c])} for c in self.children_of(r, i)],
                "synonyms": list(row["synonyms"]), "excludes": excludes,
                "path": [{"code": n["code"], "title": n["title"], "kind": n["kind"]} for n in path]}

    # -- explain ---------------------------------------------------------------------------
    def explain(self, text: str, code: str, system: str | None = None) -> dict:
        """Why ``code`` ranks where it does for ``text``: its rank and scores, which of its strings
        matched best and by which signal, what ranks above it, its hierarchy and excludes notes."""
        text = check_query(text)
        r, i = self._find(code, system)
        info = self.lookup(code, system)
        with self.lock:
            only = {"system": info["system"]} if len(r.systems) > 1 else {}
            # a category is ranked among every level; an assignable code as a search answers
            ranked = r.search(text, min(EXPLAIN_DEPTH, MAX_K), levels="assignable" if info["is_leaf"] else "all", **only)
            ids = np.flatnonzero(r.string_entry == i)
            qvec = r.encoder.queries([text])[0]
            dense = r.vectors[ids] @ qvec
            bm25 = r.bm25.scores(text)[ids]
            tfidf = r.tfidf.scores(text)[ids]
        rank = next((n for n, c in enumerate(ranked.candidates, 1)
                     if (c.system, c.code) == (info["system"], info["code"])), None)
        strings = sorted(({"string": r.strings[s], "kind": r.string_kind[s] if r.string_kind else "title",
                           "dense": round(float(d), 4), "bm25": round(float(b), 4),
                           "tfidf": round(float(t), 4)} for s, d, b, t in zip(ids, dense, bm25, tfidf)),
                         key=lambda x: -(x["dense"] + x["tfidf"]))
        above = [{"code": c.code, "title": c.title, "score": c.score, "evidence": c.evidence}
                 for c in ranked.candidates[:min(3, (rank or 4) - 1)]]
        mine = ranked.candidates[rank - 1].as_dict() if rank else None
        if rank:
            summary = f"{info['code']} ranks {rank} for this phrase; its best match is {mine['evidence']!r}."
        else:
            summary = f"{info['code']} is not among the first {EXPLAIN_DEPTH} candidates for this phrase."
        if not info["is_leaf"]:
            summary += " It is not billable: pick one of its children."
        if info["excludes"]:
            summary += " Check its excludes notes."
        return {"query": text, "code": info["code"], "title": info["title"], "system": info["system"],
                "rank": rank, "candidate": mine, "ranked_above": above, "strings": strings,
                "path": info["path"], "excludes": info["excludes"], "is_leaf": info["is_leaf"],
                "children": info["children"][:20], "rerank": ranked.rerank, "summary": summary}

    def health(self) -> dict:
        return {"status": "ok",
                "indexes": [{"path": str(r.directory), "systems": r.systems, "codes": len(r.entries),
                             "model": r.manifest["model"]["name"],
                             "reranker": "on" if r.rerank_on else ("off" if r.has_reranker else "none")}
                            for r in self.retrievers]}


class Batcher:
    """One worker thread that answers suggest requests, merging those that wait together.

    Nothing waits on purpose: while one batch is searched, new requests queue up, and the next
    batch takes all of them (up to ``max_texts`` phrases). A single client sees no added latency.
    """

    def __init__(self, service: Service, max_texts: int = 64, rerank_budget_s: float | None = None):
        self.service, self.max_texts = service, max_texts
        # a request's time from arrival within which reranking must end; past it, the rest of
        # a merged batch answers with the hybrid ranking (None: no budget)
        self.rerank_budget_s = rerank_budget_s
        self.queue: queue.Queue = queue.Queue()
        self.worker = threading.Thread(target=self._run, name="medcode-batcher", daemon=True)
        self.worker.start()

    def submit(self, texts: Sequence[str], k: int, filters: dict | None, details: bool) -> Future:
        """Checked here, so that one bad request cannot fail the others merged with it."""
        texts = [check_query(t) for t in texts]
        filters = self.service.check_filters(filters)
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise QueryError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
        future: Future = Future()
        self.queue.put((texts, k, filters, details, future, time.monotonic()))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Finish what was asked, then stop the worker (a search never stops half-way)."""
        self.queue.put(None)
        self.worker.join(timeout)

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            waiting = [first]
            count = len(waiting[0][0])
            stop = False
            while count < self.max_texts:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                waiting.append(item)
                count += len(item[0])
            groups: dict[tuple, list] = {}
            for item in waiting:  # only requests asking the same thing can share a search
                key = (item[1], tuple(sorted(item[2].items())), item[3])
                groups.setdefault(key, []).append(item)
            for (k, filters, details), items in groups.items():
                self._answer(items, k, dict(filters), details)
            if stop:
                return

    def _answer(self, items: list, k: int, filters: dict, details: bool) -> None:
        live = [it for it in items if it[4].set_running_or_notify_cancel()]
        if not live:
            return
        texts = [t for it in live for t in it[0]]
        deadline = None if self.rerank_budget_s is None else min(it[5] for it in live) + self.rerank_budget_s
        try:
            results, _ = self.service.suggest_batch(texts, k, filters, details, deadline)
        except Exception as exc:  # noqa: BLE001 - handed to the callers, who report it
            for it in live:
                it[4].set_exception(exc)
            return
        at = 0
        for it in live:
            mine = results[at:at + len(it[0])]
            it[4].set_result((mine, summary([row["rerank"] for row in mine])))
            at += len(it[0])
