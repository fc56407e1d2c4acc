"""Query time: dense + BM25 + character 3-gram search over catalogue strings, fused, collapsed to
codes, reranked."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from . import index_files as files
from .bm25 import Bm25
from .encoder import Encoder
from .errors import IndexProblem, ModelProblem, QueryError
from .fusion import METHODS, fuse
from .tfidf import CharTfidf

MAX_QUERY_CHARS = 2000
MAX_K = 1000
EXACT_BELOW = 20_000  # filtered searches over fewer strings than this scan them exactly
STAGES = ("bm25", "tfidf", "dense", "hybrid")
# fp32 at 48 tokens: 10 candidates keep a search near 57 ms p50 on 2 cores, 20 cost 110 ms (README)
DEFAULT_RERANK_TOP = 10


class Candidate(NamedTuple):
    system: str
    version: str
    code: str
    title: str
    score: float
    evidence: str
    is_leaf: bool
    scores: dict

    def as_dict(self) -> dict:
        return self._asdict()


class Result(NamedTuple):
    query: str
    candidates: list[Candidate]
    rerank: str  # "applied", or "skipped: <why>"

    def as_dict(self) -> dict:
        """The JSONL form scripts rely on: ``{"query": ..., "candidates": [...]}``."""
        return {"query": self.query, "candidates": [c.as_dict() for c in self.candidates]}


class Filters(NamedTuple):
    billable_only: bool = False
    prefix: str | None = None
    chapter: str | None = None
    system: str | None = None
    version: str | None = None


def reranker_settings(manifest: dict) -> dict | None:
    """The manifest's reranker entry as a dict (indexes of format 2 may hold just its path)."""
    spec = manifest.get("reranker")
    if not spec:
        return None
    if isinstance(spec, str):
        return {"path": spec, "enabled": True, "top": int(manifest.get("rerank_top", DEFAULT_RERANK_TOP)),
                "weight": 0.0, "why": "given at build time"}
    return dict(spec)


def _dotless(code: str) -> str:
    return code.replace(".", "").upper()


def check_query(text: object) -> str:
    if not isinstance(text, str):
        raise QueryError(f"query must be text, not {type(text).__name__}")
    text = " ".join(text.split())
    if not text:
        raise QueryError("empty query: give a clinical phrase such as 'heart attack, anterior wall'")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(text)} characters; the limit is {MAX_QUERY_CHARS} "
                         "(split a long note into phrases)")
    return text


class Retriever:
    """A loaded index. ``Retriever.load(dir).search("heart attack")`` is the whole API."""

    def __init__(self, directory: Path, manifest: dict, entries: list[list], strings: list[str],
                 string_entry: np.ndarray, bm25: Bm25, tfidf: CharTfidf, dense, encoder: Encoder, reranker=None,
                 rerank_settings: dict | None = None):
        self.directory, self.manifest = directory, manifest
        cols = {c: i for i, c in enumerate(files.ENTRY_COLUMNS)}
        self._col = cols
        # indexes built before a column was added have shorter rows: pad them
        self.entries = [row + [""] * (len(cols) - len(row)) if len(row) < len(cols) else row for row in entries]
        self.strings, self.string_entry = strings, string_entry
        self.bm25, self.tfidf, self.dense = bm25, tfidf, dense
        self.encoder, self.reranker = encoder, reranker
        self.rerank_settings = dict(rerank_settings or {})
        # a reranker is used by default only if its evaluation at training time switched it on
        self.rerank_on = reranker is not None and bool(self.rerank_settings.get("enabled", True))
        self.vectors = _faiss_vectors(dense)
        self.ef_search = int(manifest.get("dense", {}).get("ef_search", 256))
        self.fusion = dict(manifest["fusion"])
        # (system, code) -> the code in the newest edition the index holds; with the version, any edition
        self.by_code: dict[tuple[str, str], int] = {}
        self.by_edition: dict[tuple[str, str, str], int] = {}
        for i, e in enumerate(self.entries):
            key = (e[cols["system"]], _dotless(e[cols["code"]]))
            self.by_edition.setdefault((key[0], e[cols["version"]], key[1]), i)
            held = self.by_code.get(key)
            if held is None or str(e[cols["version"]]) > str(self.entries[held][cols["version"]]):
                self.by_code[key] = i
        self.parent_index = np.array([self._find(e[cols["system"]], e[cols["parent"]], e[cols["version"]])
                                      for e in self.entries], dtype=np.int64)
        self.root = self._roots()
        self.systems = sorted({e[cols["system"]] for e in self.entries})
        self.is_leaf = np.array([bool(e[cols["is_leaf"]]) for e in self.entries])
        self._masks: dict[Filters, tuple[np.ndarray, np.ndarray]] = {}

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: str | Path | None = None, model: str | None = None,
             reranker: str | None = None, verify: bool = True,
             rerank_overrides: dict | None = None) -> "Retriever":
        """Open an index after checking its manifest; ``model`` must match the one it was built with.
        ``rerank_overrides`` win over the manifest's reranker settings (``tune reranker`` judges it
        at another precision)."""
        import faiss

        directory = Path(directory).expanduser() if directory else files.default_dir()
        manifest = files.read_manifest(directory, verify=verify)
        built = manifest["model"]
        encoder = Encoder(model or built["name"], built.get("query_prefix"), built.get("passage_prefix"))
        same = encoder.dimension == built["dimension"] and encoder.fingerprint() == built["fingerprint"]
        if model and not same:
            raise ModelProblem(f"index {directory} was built with model {built['name']!r}, not {model!r}; "
                               "search it with its own model or rebuild it")
        if not same and encoder.dimension == built["dimension"]:
            raise ModelProblem(f"model {built['name']!r} has changed since index {directory} was built "
                               "(its weights differ); rebuild the index")
        if encoder.dimension != built["dimension"]:
            raise ModelProblem(f"model {built['name']!r} gives {encoder.dimension}-dimensional vectors but "
                               f"index {directory} holds {built['dimension']}; rebuild the index")
        entries = files.read_json(directory / files.ENTRIES)
        strings = files.read_json(directory / files.STRINGS)
        strings = strings.get("text") if isinstance(strings, dict) else None
        if not isinstance(strings, list):
            raise IndexProblem(f"corrupt index file {directory / files.STRINGS}: expected a 'text' list")
        vocab = files.read_json(directory / files.VOCAB)
        grams = files.read_json(directory / files.TFIDF_VOCAB)
        try:
            string_entry = np.load(directory / files.STRING_ENTRY, allow_pickle=False)
            bm25 = Bm25.load(directory, vocab, len(strings))
            bm25.language = manifest.get("bm25", {}).get("language", "en")
            tfidf = CharTfidf.load(directory, grams, len(strings))
            dense = faiss.read_index(str(directory / files.FAISS))
        except (OSError, ValueError, RuntimeError) as exc:
            raise IndexProblem(f"corrupt index in {directory}: {exc}") from exc
        if not (len(string_entry) == len(strings) == dense.ntotal == bm25.n_strings == tfidf.n_strings):
            raise IndexProblem(f"index {directory} is inconsistent: string counts differ between files")
        settings = reranker_settings(manifest)
        if settings and rerank_overrides:
            settings = {**settings, **rerank_overrides}
        if reranker:
            settings = {"path": reranker, "enabled": True, "top": DEFAULT_RERANK_TOP, "weight": 0.0,
                        "why": "chosen for this session"}
        ranker = None
        if settings:
            from .rerank import Reranker
            where = settings["path"] if reranker else _in_index(directory, settings["path"])
            ranker = Reranker.load(where, max_length=int(settings.get("max_length", 64)),
                                   quantize=settings.get("quantize"))
        return cls(directory, manifest, entries, strings, string_entry, bm25, tfidf, dense, encoder, ranker,
                   settings)

    # -- hierarchy -------------------------------------------------------------------------
    def _find(self, system: str, code: str | None, version: str | None = None) -> int:
        if not code:
            return -1
        if version is not None and (system, version, _dotless(code)) in self.by_edition:
            return self.by_edition[(system, version, _dotless(code))]
        return self.by_code.get((system, _dotless(code)), -1)

    def _roots(self) -> np.ndarray:
        root = np.arange(len(self.entries))
        for i in range(len(self.entries)):
            j = i
            for _ in range(64):  # guards against a parent cycle in a user catalogue
                p = self.parent_index[j]
                if p < 0:
                    break
                j = p
            root[i] = j
        return root

    def entry(self, code: str, system: str | None = None, version: str | None = None) -> dict | None:
        """The catalogue entry of a code (dots optional), as a dict, or None; the newest edition
        the index holds unless ``version`` pins one."""
        i = self.entry_index(code, system, version)
        return None if i < 0 else dict(zip(files.ENTRY_COLUMNS, self.entries[i]))

    def entry_index(self, code: str, system: str | None = None, version: str | None = None) -> int:
        for s in [system] if system else self.systems:
            i = self.by_edition.get((s, version, _dotless(code))) if version else self.by_code.get((s, _dotless(code)))
            if i is not None:
                return i
        return -1

    def path(self, code: str, system: str | None = None, version: str | None = None) -> list[dict]:
        """The code's ancestors from the top of its hierarchy down to itself."""
        i = self.entry_index(code, system, version)
        chain = []
        while i >= 0 and len(chain) < 64:
            chain.append(dict(zip(files.ENTRY_COLUMNS, self.entries[i])))
            i = self.parent_index[i]
        return chain[::-1]

    # -- filters ---------------------------------------------------------------------------
    def _allowed(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        """(entry mask, allowed string ids) for the filters, cached per combination."""
        if filters not in self._masks:
            c = self._col
            mask = np.ones(len(self.entries), dtype=bool)
            if filters.billable_only:
                mask &= self.is_leaf
            if filters.prefix:
                p = _dotless(filters.prefix)
                mask &= np.array([_dotless(e[c["code"]]).startswith(p) for e in self.entries])
            if filters.chapter:
                want = filters.chapter.strip().upper()
                mask &= np.array([self.entries[r][c["code"]].upper() == want for r in self.root])
            if filters.system:
                mask &= np.array([e[c["system"]].lower() == filters.system.lower() for e in self.entries])
            if filters.version:
                mask &= np.array([e[c["version"]] == filters.version for e in self.entries])
            if len(self._masks) > 64:
                self._masks.clear()
            self._masks[filters] = (mask, np.flatnonzero(mask[self.string_entry]).astype(np.int64))
        return self._masks[filters]

    def _dense_hits(self, vecs: np.ndarray, depth: int, allowed: np.ndarray | None) -> np.ndarray:
        """Top ``depth`` string ids per query (-1 pads), only among ``allowed`` when given."""
        import faiss

        if allowed is not None and len(allowed) <= EXACT_BELOW:
            # few strings pass the filters: an exact scan of them beats a filtered graph walk
            sims = vecs @ self.vectors[allowed].T
            n = min(depth, len(allowed))
            top = np.argpartition(-sims, n - 1, axis=1)[:, :n]
            return allowed[top]
        hnsw = hasattr(self.dense, "hnsw")
        kw = {"efSearch": max(depth, self.ef_search)} if hnsw else {}
        if allowed is not None:
            kw["sel"] = faiss.IDSelectorBatch(allowed)
        params = (faiss.SearchParametersHNSW if hnsw else faiss.SearchParameters)(**kw) if kw else None
        _, hits = self.dense.search(vecs, min(depth, self.dense.ntotal), params=params)
        return hits

    # -- search ----------------------------------------------------------------------------
    def search(self, text: str, k: int = 10, *, stage: str = "hybrid", rerank: bool | None = None,
               fusion: dict | None = None, **filters) -> Result:
        """Ranked candidate codes for one phrase. Filters: billable_only, prefix, chapter, system, version.

        ``fusion`` overrides the index's fusion settings for this call, e.g.
        ``{"method": "rrf", "k": 60, "depth": 100}`` or ``{"method": "linear", "weight": 0.3}``.
        """
        return self.search_batch([text], k, stage=stage, rerank=rerank, fusion=fusion, **filters)[0]

    def search_batch(self, texts: Sequence[str], k: int = 10, *, stage: str = "hybrid",
                     rerank: bool | None = None, fusion: dict | None = None, batch_size: int = 32,
                     **filters) -> list[Result]:
        """Like ``search`` for many phrases, embedding them in batches; results in input order."""
        if isinstance(texts, str):
            raise QueryError("search_batch takes a list of phrases, not one string")
        texts = [check_query(t) for t in texts]
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise QueryError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
        if stage not in STAGES:
            raise QueryError(f"unknown stage {stage!r} (choose from {', '.join(STAGES)})")
        try:
            flt = Filters(**filters)
        except TypeError as exc:
            raise QueryError(f"unknown filter: {exc}") from exc
        mask, allowed_ids = self._allowed(flt) if flt != Filters() else (None, None)
        if allowed_ids is not None and not len(allowed_ids):
            return [Result(t, [], "skipped: no codes pass the filters") for t in texts]

        fusion = {**self.fusion, **(fusion or {})}
        if fusion.get("method", "linear") not in METHODS:
            raise QueryError(f"unknown fusion method {fusion.get('method')!r} (choose from {', '.join(METHODS)})")
        use_rerank = self.rerank_on if rerank is None else bool(rerank)
        # codes kept per query: what is shown, and what the reranker may reorder
        limit = max(k, self.rerank_settings.get("top", 0) if use_rerank else 0)
        pools = self._pools(texts, stage, fusion, limit, mask, allowed_ids, batch_size)
        if use_rerank and self.reranker is not None:
            note = "applied"
            pools = self.rerank(texts, pools)
        elif use_rerank:
            note = "skipped: this index has no reranker (train one: medcode train reranker)"
        elif self.reranker is None:
            note = "skipped: this index has no reranker (train one: medcode train reranker)"
        elif rerank is None:
            note = f"skipped: the reranker is off for this index ({self.rerank_settings.get('why', 'no reason given')})"
        else:
            note = "skipped: turned off for this search"
        computed = {"bm25": stage in ("bm25", "hybrid"), "tfidf": stage in ("tfidf", "hybrid"),
                    "dense": stage in ("dense", "hybrid")}
        return [Result(t, [self._candidate(*row, computed=computed) for row in pool[:k]], note)
                for t, pool in zip(texts, pools)]

    def pools(self, texts: Sequence[str], limit: int, stage: str = "hybrid") -> list[list]:
        """The ranked code rows a search would show or rerank, before any rerank (used to train and
        tune the reranker). Rows: [entry, stage score, evidence string, rerank score, cosine, bm25, tfidf]."""
        return self._pools([check_query(t) for t in texts], stage, dict(self.fusion), limit, None, None, 32)

    def _pools(self, texts: list[str], stage: str, fusion: dict, limit: int, mask, allowed_ids,
               batch_size: int) -> list[list]:
        depth = int(fusion.get("depth", 100))
        vecs = self.encoder.queries(texts, batch_size) if stage in ("dense", "hybrid") else None
        dense_hits = self._dense_hits(vecs, depth, allowed_ids) if vecs is not None else None
        pools = []
        # each stage computes only the signals it ranks by; the others are reported as None
        use_bm25, use_tfidf = stage in ("bm25", "hybrid"), stage in ("tfidf", "hybrid")
        nothing = np.zeros(len(self.strings), dtype=np.float32)
        for qi, text in enumerate(texts):
            bm = self.bm25.scores(text) if use_bm25 else nothing
            tf = self.tfidf.scores(text) if use_tfidf else nothing
            if mask is not None:
                outside = ~mask[self.string_entry]
                for signal in (bm, tf):
                    if signal is not nothing:
                        signal[outside] = 0.0
            found = [dense_hits[qi][dense_hits[qi] >= 0]] if dense_hits is not None else []
            if use_bm25:
                found.append(_top(bm, depth))
            if use_tfidf:
                found.append(_top(tf, depth))
            ids = np.unique(np.concatenate(found)).astype(np.int64) if found else np.zeros(0, np.int64)
            cos = self.vectors[ids] @ vecs[qi] if vecs is not None else np.zeros(len(ids), np.float32)
            scale = self.bm25.ceiling(text) if fusion.get("bm25_norm") == "ceiling" else None
            pools.append(self._collapse(ids, cos, bm[ids], tf[ids], stage, fusion, scale, limit))
        return pools

    def _collapse(self, ids: np.ndarray, cos: np.ndarray, bm: np.ndarray, tf: np.ndarray, stage: str,
                  fusion: dict, scale: float | None, limit: int) -> list[list]:
        """Strings -> codes: each code keeps its best string as evidence; ranked by stage score.
        Rows: [entry, stage score, evidence string, rerank score, cosine, bm25, tfidf]."""
        if not len(ids):
            return []
        signals = {"dense": cos.astype(np.float64), "bm25": bm.astype(np.float64), "tfidf": tf.astype(np.float64)}
        if stage == "hybrid":
            score = fuse(fusion, signals["dense"], signals["bm25"], signals["tfidf"], scale)
        else:
            score = signals[stage]
            if stage != "dense":
                keep = score > 0  # a lexical stage proposes only strings that share something
                ids, cos, bm, tf, score = ids[keep], cos[keep], bm[keep], tf[keep], score[keep]
                if not len(ids):
                    return []
        ent = self.string_entry[ids].astype(np.int64)
        order = np.lexsort((ids, -score))
        _, first = np.unique(ent[order], return_index=True)
        best = order[np.sort(first)][:limit]  # each code's best string, in rank order
        # each code's best value of every signal, whichever string it came from
        by_entry = np.argsort(ent, kind="stable")
        starts = np.flatnonzero(np.r_[True, ent[by_entry][1:] != ent[by_entry][:-1]])
        group = np.searchsorted(ent[by_entry][starts], ent[best])
        peaks = [np.maximum.reduceat(x[by_entry], starts)[group] for x in (cos, bm, tf)]
        return [[int(ent[j]), float(score[j]), int(ids[j]), None, float(c), float(b), float(t)]
                for j, c, b, t in zip(best, *peaks)]

    def rerank(self, texts: Sequence[str], pools: list[list], weight: float | None = None) -> list[list]:
        """Reorder each pool's head by the cross-encoder's score plus ``weight`` times the hybrid
        score (the manifest's weight unless given); the rest of the pool keeps its order."""
        n = int(self.rerank_settings.get("top", DEFAULT_RERANK_TOP))
        weight = float(self.rerank_settings.get("weight", 0.0) if weight is None else weight)
        logits = self.rerank_logits(texts, [pool[:n] for pool in pools])
        out = []
        for pool, head_logits in zip(pools, logits):
            head = pool[:len(head_logits)]
            for row, s in zip(head, head_logits):
                row[3] = float(s) + weight * row[1]
            head.sort(key=lambda row: -row[3])
            out.append(head + pool[len(head):])
        return out

    def rerank_logits(self, texts: Sequence[str], heads: list[list]) -> list[np.ndarray]:
        """The cross-encoder's raw score of each (query, candidate) pair, per query."""
        pairs = [(text, self.candidate_text(row[0])) for text, head in zip(texts, heads) for row in head]
        scores = self.reranker.score(pairs) if pairs else np.zeros(0)
        bounds = np.cumsum([0] + [len(h) for h in heads])
        return [scores[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def candidate_text(self, entry_index: int) -> str:
        """What the reranker reads for a candidate: its title, and its parent's for context."""
        e = self.entries[entry_index]
        p = self.parent_index[entry_index]
        title = e[self._col["title"]]
        if p >= 0 and self.entries[p][self._col["kind"]] not in ("chapter", "block"):
            parent = self.entries[p][self._col["title"]]
            if not title.startswith(parent):  # 7th-character titles already begin with it
                return f"{title} ({parent})"
        return title

    def _candidate(self, e: int, fused: float, string: int, rerank, cos: float, bm: float, tf: float,
                   computed: dict) -> Candidate:
        row, c = self.entries[e], self._col

        def shown(name: str, value: float):
            return round(value, 6) if computed[name] else None

        return Candidate(system=row[c["system"]], version=row[c["version"]], code=row[c["code"]],
                         title=row[c["title"]], score=round(rerank if rerank is not None else fused, 6),
                         evidence=self.strings[string], is_leaf=bool(row[c["is_leaf"]]),
                         scores={"bm25": shown("bm25", bm), "tfidf": shown("tfidf", tf), "dense": shown("dense", cos),
                                 "fused": round(fused, 6), "rerank": None if rerank is None else round(rerank, 6)})


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    positive = np.flatnonzero(scores > 0)
    if len(positive) <= n:
        return positive
    part = np.argpartition(-scores[positive], n - 1)[:n]
    return positive[part]


def _faiss_vectors(index) -> np.ndarray:
    """The index's own flat vector store, viewed without a copy."""
    import faiss

    if hasattr(index, "storage"):  # HNSW keeps its vectors in a flat index of its own
        index = faiss.downcast_index(index.storage)
    n, d = index.ntotal, index.d
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    return faiss.rev_swig_ptr(index.get_xb(), n * d).reshape(n, d)


def _in_index(directory: Path, spec: str) -> str:
    """A reranker path recorded in the manifest is relative to the index directory."""
    candidate = directory / spec
    return str(candidate) if candidate.exists() else spec


__all__ = ["Candidate", "Result", "Retriever", "Filters", "check_query", "MAX_QUERY_CHARS"]
