"""``medcode build``: catalogues -> index directory, written aside and swapped in whole."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from retriever import __version__
from retriever import index_files as files
from retriever.bm25 import B, EPSILON, K1, Bm25
from retriever.encoder import DEFAULT_MODEL, SHIPPED_ENCODER, SHIPPED_RERANKER, resolve
from retriever import entries as entry_files
from retriever.hierarchy import parents_and_roots
from retriever.index_lookup import named_keys
from retriever.onnx_models import PRECISIONS, OnnxEncoder
from retriever.search import DEFAULT_RERANK_TOP
from retriever.tfidf import CharTfidf
from retriever.tokenize import LANGUAGES

from .catalogs import is_index, load_all, load_terms
from .embed_cache import EmbeddingCache
from .embed_cache import default_dir as embed_cache_dir
from .export import FUSION_FILE, NOTES_CARD, RERANKER_FILE, card
from .onnx_export import SHIPPED_ONNX, export_cross_encoder, export_encoder
from .strings import index_strings

# Chosen on the inclusion-term leave-out dev split (bench/tune_fusion.py); see the README.
DEFAULT_FUSION = {"method": "linear", "weight": 0.1, "tfidf_weight": 0.7, "depth": 100, "bm25_norm": "max"}
DENSE_INDEXES = ("hnsw", "flat")
DENSE_VECTORS = ("fp16", "fp32")
# queries run on the encoder's int8 copy only where its vectors of this many catalogue strings are
# all within this cosine of the fp32 ones (the shipped encoder's worst over a note's mentions: 0.997)
INT8_SAMPLE, INT8_MIN_COSINE = 256, 0.99
ENCODER_DIR, RERANKER_DIR = "encoder", "reranker"


def default_models(catalogs: Sequence[str]) -> tuple[str | None, str | None]:
    """Encoder and reranker when none is named: the pair medcode trained for ICD-10-CM when the
    index is ICD-10-CM alone, else the embedded MiniLM and no reranker (the pair learned English
    and Spanish ICD-10-CM wording and was judged only there)."""
    if {c for c in catalogs if not is_index(c)} == {"icd10cm"}:
        return SHIPPED_ENCODER, SHIPPED_RERANKER
    return None, None


def dense_settings(kind: str, vectors: str = "fp16") -> dict:
    """Vectors are stored as fp16 by default (half the memory of fp32: 145 instead of 290 MiB for
    ICD-10-CM's strings); the query stays fp32, and on the dev sets accuracy is the same (README)."""
    if kind not in DENSE_INDEXES:
        raise ValueError(f"unknown dense index {kind!r} (choose from {', '.join(DENSE_INDEXES)})")
    if vectors not in DENSE_VECTORS:
        raise ValueError(f"unknown vector storage {vectors!r} (choose from {', '.join(DENSE_VECTORS)})")
    if kind == "hnsw":
        return {"index": kind, "m": 32, "ef_construction": 80, "ef_search": 256, "vectors": vectors}
    return {"index": kind, "vectors": vectors}
CHUNK = 512


def _progress(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="str", disable=not enabled, file=sys.stderr)


def _encode_with_progress(encoder: OnnxEncoder, show: bool):
    def encode(texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        out = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
        with _progress(len(texts), show, "embedding") as bar:
            for a in range(0, len(order), CHUNK):
                ids = order[a:a + CHUNK]
                out[ids] = encoder.passages([texts[i] for i in ids])
                bar.update(len(ids))
        return out
    return encode


def _catalogue_hash(entries) -> str:
    h = hashlib.sha256()
    for e in entries:
        h.update(json.dumps(list(e), ensure_ascii=False).encode())
    return h.hexdigest()


def _clean_stale(target: Path) -> None:
    """Remove temporary folders of builds that died (their process is gone)."""
    for tmp in target.parent.glob(f".{target.name}.building-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            pass


def _swap(tmp: Path, target: Path) -> None:
    """Put the finished build in place; the old index stays whole until the new one is complete."""
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def build(catalogs: Sequence[str] = ("icd10cm",), index: str | Path | None = None, model: str | None = None,
          *, cache: str | Path | None = None, reranker: str | None = None, reranker_settings: dict | None = None,
          context: str = "none",
          holdout: float = 0.0, seed: int = 0, fusion: dict | None = None, notes: dict | None = None,
          progress: bool = True,
          query_prefix: str | None = None, passage_prefix: str | None = None,
          dense_index_kind: str = "hnsw", language: str = "en", index_terms: bool = True, lexicons: bool = True,
          index_holdout: float | None = None, index_wording: str = "printed", dense_vectors: str = "fp16",
          query_precision: str = "int8") -> dict:
    """Build an index and return its manifest. ``language`` picks the BM25 tokenizer (stopwords;
    English plurals; German compound splitting). ``holdout`` leaves a seeded share of synonyms out
    of the index and writes them to ``heldout.jsonl`` as evaluation gold; ``index_holdout``
    (default: ``holdout``) does so for whole main terms of the ICD-10-CM index
    (``heldout-index.jsonl``). ``index_terms``: an ICD-10-CM build reads the index files medcode
    ships (``icd10cm-index:PATH`` catalogues replace them by kind); ``lexicons``: it reads the coded
    terms medcode ships (``lexicon:PATH`` files are read either way). ``reranker`` (a
    cross-encoder name or folder; ``False`` for none) is copied in with ``reranker_settings``
    (default: the folder's ``medcode_reranker.json`` verdict, else on, ``DEFAULT_RERANK_TOP``). With no ``model``,
    ``default_models`` picks both; with no ``fusion``, the encoder folder's ``medcode_fusion.json``
    or ``DEFAULT_FUSION``; with no ``notes`` (note scorer and threshold), the encoder folder's
    ``medcode_notes.json``, if any. ``query_precision``: queries are embedded by the encoder's
    int8 copy (weights in blocks: a note's embeddings in 70 instead of 96 ms, the dev sets' accuracy
    unchanged; README), if it passes ``int8_check``, or by the fp32 model that embedded the catalogue."""
    started = time.time()
    if model is None:
        model, shipped_reranker = default_models(catalogs)
        reranker = shipped_reranker if reranker is None else reranker
    reranker = reranker or None  # False: none
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r} (choose from {', '.join(LANGUAGES)})")
    if query_precision not in PRECISIONS:
        raise ValueError(f"unknown query precision {query_precision!r} (choose from {', '.join(PRECISIONS)})")
    target = Path(index).expanduser() if index else files.default_dir()
    loaded = load_all(list(catalogs))
    entries = [e for _, group in loaded for e in group]
    index_holdout = holdout if index_holdout is None else index_holdout
    term_files = load_terms(list(catalogs), loaded, shipped=index_terms, lexicons=lexicons)
    strings, left_out, left_index, skipped = index_strings(
        entries, context=context, holdout=holdout, seed=seed, terms=[t for _, group, _ in term_files for t in group],
        index_holdout=index_holdout, index_wording=index_wording)
    if not strings:
        raise ValueError("the catalogues hold no code that can be suggested")

    model = model or DEFAULT_MODEL
    encoder_card = card(resolve(model), FUSION_FILE) or {}
    if fusion is None:
        fusion = encoder_card.get("fusion")
    # the note scorer and threshold chosen for this encoder and fusion (``medcode tune notes``)
    if notes is None:
        notes = card(resolve(model), NOTES_CARD) or {}
    if reranker and reranker_settings is None:
        reranker_settings = card(resolve(reranker), RERANKER_FILE)

    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(target)
    tmp = target.parent / f".{target.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        # the index carries its encoder as ONNX; the build embeds with that very model, so the
        # vectors in the index are the ones a search compares against
        cache_root = Path(cache).expanduser() if cache else embed_cache_dir()
        exported = export_encoder(model, tmp / ENCODER_DIR, cache=cache_root)
        encoder = OnnxEncoder(tmp / ENCODER_DIR,
                              exported["query_prompt"] if query_prefix is None else query_prefix,
                              exported["passage_prompt"] if passage_prefix is None else passage_prefix)
        described = {"name": model, "dimension": encoder.dimension, "fingerprint": exported["source_fingerprint"],
                     "query_prefix": encoder.query_prefix, "passage_prefix": encoder.passage_prefix,
                     "runtime": "onnx", "path": ENCODER_DIR, "query_precision": query_precision}
        store = EmbeddingCache(cache_root, f"{described['fingerprint']}\x1f{encoder.passage_prefix}",
                               encoder.dimension)
        texts = [s.text for s in strings]
        vectors, embedded = store.embed(texts, _encode_with_progress(encoder, progress))
        if query_precision == "int8":
            described.update(int8_check(encoder, texts, vectors))
        manifest = _write(tmp, loaded, entries, strings, left_out, vectors, described,
                          term_files=term_files, left_index=left_index, skipped=skipped, index_holdout=index_holdout,
                          index_wording=index_wording,
                          reranker=reranker, reranker_settings=reranker_settings, fusion=fusion, notes=notes,
                          context=context, holdout=holdout, seed=seed,
                          dense=dense_settings(dense_index_kind, dense_vectors), language=language,
                          embedded=embedded, started=started, cache=cache_root)
        _swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def int8_check(encoder: OnnxEncoder, texts: Sequence[str], vectors: np.ndarray, sample: int = INT8_SAMPLE) -> dict:
    """The manifest's query precision: the encoder's int8 copy if it runs on this machine and its
    vectors of ``sample`` catalogue strings (spread over the catalogue) are within
    ``INT8_MIN_COSINE`` of the fp32 ones; fp32 otherwise, and why."""
    picked = np.unique(np.linspace(0, len(texts) - 1, min(sample, len(texts))).astype(np.int64))
    try:
        int8 = OnnxEncoder(encoder.folder, encoder.query_prefix, encoder.passage_prefix, precision="int8")
        got = int8.passages([texts[i] for i in picked])
    except Exception as exc:  # an ONNX Runtime without the int8 kernels raises its own kinds
        return {"query_precision": "fp32", "int8_check": f"the int8 copy does not run here: {str(exc).splitlines()[0]}"}
    worst = float(np.min(np.sum(got * vectors[picked].astype(np.float32), axis=1)))
    check = {"strings": len(picked), "min_cosine": round(worst, 4)}
    return {"query_precision": "int8" if worst >= INT8_MIN_COSINE else "fp32", "int8_check": check}


def dense_index(vectors: np.ndarray, settings: dict):
    """Exact inner product ("flat"), or an HNSW graph: a flat scan of ICD-10-CM's strings takes
    about 10 ms a query on 2 cores, HNSW 0.1 ms; on the leave-out, dense recall@10 0.655 against
    0.659 exact, hybrid the same to 0.001 (README)."""
    import faiss

    dim, half = vectors.shape[1], settings.get("vectors", "fp32") == "fp16"
    fp16, ip = faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    if settings["index"] == "flat":
        index = faiss.IndexScalarQuantizer(dim, fp16, ip) if half else faiss.IndexFlatIP(dim)
    elif settings["index"] == "hnsw":
        index = faiss.IndexHNSWSQ(dim, fp16, settings["m"], ip) if half else faiss.IndexHNSWFlat(dim, settings["m"], ip)
        index.hnsw.efConstruction = settings["ef_construction"]
        index.hnsw.efSearch = settings["ef_search"]
    else:
        raise ValueError(f"unknown dense index {settings['index']!r} (choose flat or hnsw)")
    index.train(vectors)  # fp16 needs no statistics; faiss asks for the call all the same
    index.add(vectors)
    return index


def _write(tmp: Path, loaded, entries, strings, left_out, vectors, described, *, term_files, left_index, skipped, index_holdout, index_wording, reranker,
           reranker_settings, fusion, notes, dense, context, holdout, seed, embedded, started, language,
           cache) -> dict:
    import faiss

    def dump(name: str, obj) -> None:
        with open(tmp / name, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))

    rows = [list(e) for e in entries]
    dump(files.ENTRIES, rows)
    entry_files.write(tmp, rows, dump)
    dump(files.STRINGS, {"text": [s.text for s in strings], "code": [entries[s.entry].code for s in strings],
                         "kind": [s.kind for s in strings], "note": [s.note for s in strings],
                         "levels": [list(s.levels) for s in strings]})
    np.save(tmp / files.STRING_ENTRY, np.array([s.entry for s in strings], dtype=np.int32), allow_pickle=False)
    keys, ptr, ids = named_keys([s.text for s in strings], [s.levels for s in strings])
    dump(files.NAMED_KEYS, keys)
    np.save(tmp / files.NAMED_PTR, ptr, allow_pickle=False)
    np.save(tmp / files.NAMED_IDS, ids, allow_pickle=False)
    parent, root = parents_and_roots(rows)
    np.save(tmp / files.ENTRY_PARENT, parent, allow_pickle=False)
    np.save(tmp / files.ENTRY_ROOT, root, allow_pickle=False)
    faiss.write_index(dense_index(vectors, dense), str(tmp / files.FAISS))
    bm25 = Bm25.build([s.text for s in strings], language=language)
    bm25.save(tmp)
    dump(files.VOCAB, bm25.vocab)
    tfidf = CharTfidf.build([s.text for s in strings])
    tfidf.save(tmp)
    dump(files.TFIDF_VOCAB, tfidf.vocab)
    for name, gold in (("heldout.jsonl", left_out), ("heldout-index.jsonl", left_index)):
        if gold:
            with open(tmp / name, "w", encoding="utf-8") as f:
                for row in gold:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if reranker:
        reranker = {"top": DEFAULT_RERANK_TOP, "weight": 0.0, "enabled": True,
                    "why": "given at build time, not evaluated by medcode", **(reranker_settings or {}),
                    "path": _place_reranker(tmp, reranker, (reranker_settings or {}).get("max_length", 64), cache)}

    kinds: dict[str, int] = {}
    for s in strings:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    manifest = {
        "kind": "medcode-index",
        "format": files.FORMAT,
        "medcode_version": __version__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "catalogues": [{"name": spec, "systems": sorted({f"{e.system} {e.version}" for e in group}),
                        "entries": len(group), "sha256": _catalogue_hash(group)} for spec, group in loaded]
        + [{"name": spec, "systems": sorted({t.system for t in group}) or ["ICD-10-CM"], "index_terms": report, "sha256": _catalogue_hash(group)}
           for spec, group, report in term_files],
        "model": described,
        "counts": {"entries": len(entries), "suggestable": sum(e.suggestable for e in entries),
                   "billable": sum(e.is_leaf and e.suggestable for e in entries),
                   "strings": len(strings), "strings_by_kind": kinds, "newly_embedded": embedded,
                   "held_out": len(left_out), "held_out_index_terms": len(left_index),
                   "index_terms_not_indexed": skipped},
        "strings": {"context": context, "holdout": holdout, "seed": seed,
                    "index_holdout": index_holdout, "index_wording": index_wording},
        "bm25": {"k1": K1, "b": B, "epsilon": EPSILON, "language": language,
                 "tokenizer": {"en": "fold-alnum-stop-plural/1", "de": "fold-alnum-stop-decompound/1"}.get(
                     language, "fold-alnum-stop/1")},
        "fusion": dict(fusion or DEFAULT_FUSION),
        "notes": dict(notes or {}),
        "dense": dense,
        "reranker": reranker,
        "build_seconds": None,
    }
    files.record_files(tmp, manifest)
    manifest["build_seconds"] = round(time.time() - started, 1)
    with open(tmp / files.MANIFEST, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
    return manifest


def _place_reranker(tmp: Path, reranker: str, max_length: int, cache: Path) -> str:
    """The cross-encoder goes into the index: its ONNX export (what searches run) in
    ``reranker/onnx``, and a local model's own folder beside it (what training and export
    start from), so that the index is self-contained."""
    src = Path(resolve(reranker))
    if src.is_dir():
        shutil.copytree(src, tmp / RERANKER_DIR, ignore=shutil.ignore_patterns(SHIPPED_ONNX, ".*"))
    export_cross_encoder(reranker, tmp / RERANKER_DIR / SHIPPED_ONNX, max_length, cache=cache)
    return RERANKER_DIR
