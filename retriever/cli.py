"""The ``medcode`` command: a thin layer over ``index_build.build`` and ``Retriever``."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__, cli_models
from .errors import MedcodeError


def _index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", metavar="DIR", help="index directory (default: $MEDCODE_INDEX, "
                                                  "else ~/.cache/medcode/icd10cm)")


def _filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--billable", action="store_true", help="billable leaf codes only")
    p.add_argument("--prefix", help="only codes starting with this (dots optional), e.g. I21")
    p.add_argument("--edition", metavar="VERSION", help="only this edition of the catalogue (an index may hold several)")
    p.add_argument("--chapter", help="only codes of this chapter (ICD-10-CM: 1..22)")
    p.add_argument("--system", help="only codes of this catalogue system, e.g. ICD-10-CM")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="medcode", description="Suggest medical codes for clinical phrases.")
    ap.add_argument("--version", action="version", version=f"medcode {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build an index from catalogues")
    b.add_argument("--catalog", action="extend", nargs="+", metavar="NAME|PATH",
                   help="built-in catalogue (icd10cm), FORMAT:PATH (edv, claml, omop, alpha-id, "
                        "icd10cm-index) or a YAML/CSV/TSV file; several allowed")
    b.add_argument("--model", metavar="NAME|PATH",
                   help="sentence-transformers model (default: medcode-icd10cm-encoder, trained for "
                        "ICD-10-CM, when the index is icd10cm alone; else the embedded all-MiniLM-L6-v2)")
    _index_arg(b)
    b.add_argument("--reranker", metavar="NAME|PATH",
                   help="cross-encoder to rerank with (default: medcode-icd10cm-reranker when --model "
                        "is left to its default on icd10cm; else none)")
    b.add_argument("--no-reranker", action="store_true", help="build without a cross-encoder")
    b.add_argument("--cache", metavar="DIR", help="embedding cache (default: $MEDCODE_CACHE, "
                                                  "else ~/.cache/medcode/embeddings)")
    b.add_argument("--context", choices=("none", "vague", "all"), default="none",
                   help="also index '<parent title>: <title>' for vague titles or all titles "
                        "(default none: it did not help on the leave-out, see README)")
    b.add_argument("--holdout", type=float, default=0.0, metavar="FRACTION",
                   help="leave this share of synonyms out (written to heldout.jsonl as gold)")
    b.add_argument("--index-holdout", type=float, metavar="FRACTION",
                   help="leave this share of the ICD-10-CM index's main terms out, with all their terms "
                        "(written to heldout-index.jsonl as gold; default: --holdout)")
    b.add_argument("--no-index-terms", action="store_true",
                   help="leave out the ICD-10-CM Alphabetic Index, External Cause Index and the Neoplasm "
                        "and Drug Tables and the lexicons that medcode ships (files given as icd10cm-index:PATH or "
                        "lexicon:PATH still count)")
    b.add_argument("--no-lexicon", action="store_true",
                   help="leave out the coded-term lexicons medcode ships for ICD-10-CM (the Spanish CodiEsp-X "
                        "train spans); files given as lexicon:PATH still count")
    b.add_argument("--index-wording", choices=("printed", "plain", "natural"), default="printed",
                   help="an index term's string: as printed, with its nonessential modifiers in parentheses "
                        "(default), its path without them, or that path in natural word order")
    b.add_argument("--seed", type=int, default=0, help="seed of the holdout draws")
    b.add_argument("--language", default="en", choices=("en", "de", "es"),
                   help="language of the catalogue's text, for BM25 (stopwords; German compounds are split)")
    b.add_argument("--query-prefix", help="text put before each query (models such as e5 need one)")
    b.add_argument("--passage-prefix", help="text put before each catalogue string")
    b.add_argument("--dense-index", choices=("hnsw", "flat"), default="hnsw",
                   help="FAISS index: HNSW graph (default, fast) or exact flat scan")
    b.add_argument("--dense-vectors", choices=("fp16", "fp32"), default="fp16",
                   help="how the vectors are stored: fp16 (default, half the memory, same accuracy on the "
                        "dev sets) or fp32")
    b.add_argument("--query-precision", choices=("int8", "fp32"), default="int8",
                   help="how queries are embedded: the encoder's int8 copy (default, half the time, the same "
                        "accuracy on the dev sets) or fp32; the catalogue is embedded in fp32 either way")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("search", help="suggest codes for a phrase, or for each line of a file")
    s.add_argument("phrase", nargs="?", help="clinical phrase")
    _index_arg(s)
    s.add_argument("-k", type=int, default=10, help="candidates per phrase (default 10)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder stage")
    s.add_argument("--rerank", action="store_true",
                   help="rerank every phrase with the index's cross-encoder, even where it is off by default")
    s.add_argument("--all-levels", action="store_true",
                   help="rank codes of every level (categories too); default: assignable codes only, "
                        "a category found bringing its best-matching codes")
    s.add_argument("--stage", choices=("hybrid", "dense", "bm25", "tfidf"), default="hybrid",
                   help="retrieval stage (default hybrid)")
    s.add_argument("--input", metavar="FILE", help="one phrase per line")
    s.add_argument("--output", metavar="FILE.jsonl", help="JSON lines, in input order (with --input)")
    s.add_argument("--model", metavar="NAME|PATH", help="must be the model the index was built with")
    _filter_args(s)

    e = sub.add_parser("eval", help="accuracy of each stage on a gold file")
    e.add_argument("--gold", required=True, metavar="FILE.jsonl",
                   help='one {"text": ..., "codes": [...]} per line')
    _index_arg(e)
    e.add_argument("-k", type=int, default=10, help="cut-off for the document metrics (default 10)")
    e.add_argument("--stages", default="tfidf,bm25,dense,hybrid,rerank",
                   help="comma-separated, from tfidf,bm25,dense,hybrid,rerank")
    e.add_argument("--documents", action="store_true",
                   help="each text is a note with a code set: split it into phrases, score the set")
    e.add_argument("--dev", metavar="FILE.jsonl", help="dev notes to choose the micro-F1 threshold on "
                                                       "(with --documents)")
    e.add_argument("--language", default="en", choices=("en", "es", "de", "fr"),
                   help="language of the notes (with --documents; default en)")
    e.add_argument("--no-assertions", action="store_true",
                   help="with --documents: read every mention as present (the ablation of negation etc.)")
    e.add_argument("--scoring", choices=("index", "rule"), default="index",
                   help="with --documents: the index's learned note scorer if it has one (default), or the hand rule")
    e.add_argument("--absent", choices=("miss", "ancestor"), default="miss",
                   help="gold codes the index lacks: count as misses (default), or score them against "
                        "their nearest listed ancestor (for catalogue extracts with gaps); either way the "
                        "report says how many")
    e.add_argument("--levels", choices=("assignable", "all"), default="assignable",
                   help="what the searches answer with: assignable codes (default, as medcode search) or "
                        "every level (as before index terms)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--errors", metavar="FILE.jsonl", help="write each miss: query, gold, what came first")
    e.add_argument("--plot", metavar="FILE.png", help="save recall@k for k = 1..20 per stage")
    e.add_argument("--quiet", action="store_true", help="no progress bar")

    cli_models.add_parsers(sub, _index_arg)

    from . import cli_code

    cli_code.add_parser(sub)

    ba = sub.add_parser("batch", help="phrases or notes by the million: blocks written as they finish, resumable, "
                                      "in this process or on Ray")
    ba.add_argument("--input", required=True, metavar="PATH",
                    help='JSONL ({"id", "text"} a line), Parquet (columns id, text) or a text file (a phrase a line)')
    ba.add_argument("--output", required=True, metavar="DIR", help="folder of part-NNNNN.jsonl files; rerun to resume")
    ba.add_argument("--kind", choices=("phrases", "notes"), default="phrases",
                    help="phrases (as medcode search) or notes (as medcode code); default phrases")
    ba.add_argument("--engine", choices=("local", "ray"), default="local",
                    help="local: this process; ray: a pool of Ray Data actors (pip install 'medcode[ray]')")
    ba.add_argument("--address", help="Ray cluster to join: auto, or ray://HOST:PORT (default: start one here)")
    ba.add_argument("--workers", type=int, default=1, help="Ray actors, each holding the index (default 1)")
    ba.add_argument("--batch-size", type=int, default=1000, help="rows per block, the unit written and resumed")
    _index_arg(ba)
    ba.add_argument("-k", type=int, default=10, help="candidates per phrase (phrases; default 10)")
    ba.add_argument("--language", default="en", choices=("en", "es", "de", "fr"), help="notes: their language")
    ba.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder stage")
    ba.add_argument("--rerank", action="store_true", help="rerank every phrase (a note: the mentions whose first two codes are close)")
    ba.add_argument("--quiet", action="store_true", help="no progress bar")

    sv = sub.add_parser("serve", help="HTTP API, FHIR terminology operations and the search page")
    sv.add_argument("--index", metavar="DIR", action="append",
                    help="index directory; repeat to serve several (default: $MEDCODE_INDEX, else "
                         "~/.cache/medcode/icd10cm)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--max-k", type=int, default=100, help="most candidates one request may ask for")
    sv.add_argument("--max-batch", type=int, default=256, help="most phrases in one /suggest/batch")
    sv.add_argument("--max-body", type=int, default=256 * 1024, help="largest request body in bytes")
    sv.add_argument("--rerank-budget-ms", type=float, default=150,
                    help="a request's time from arrival within which reranking must end; under load the "
                         "rest answer with the hybrid ranking and say so (default 150; 0: no budget)")
    sv.add_argument("--timeout", type=float, default=30.0, help="seconds before a search is answered 503")

    mc = sub.add_parser("mcp", help="Model Context Protocol server over stdio (for LLM assistants)")
    mc.add_argument("--index", metavar="DIR", action="append", help="index directory; repeat for several")

    d = sub.add_parser("diff", help="codes added, removed, retitled between an index and another edition")
    d.add_argument("old_index", metavar="OLD_INDEX", help="index built from the old edition")
    d.add_argument("catalog", metavar="NEW_CATALOGUE", nargs="+", help="the new edition (name or file)")
    d.add_argument("--system", help="compare this system only")
    d.add_argument("--json", action="store_true", help="print everything as one JSON object")
    d.add_argument("--limit", type=int, default=20, help="rows shown per list in the table (default 20)")

    i = sub.add_parser("info", help="what the index manifest says")
    _index_arg(i)
    i.add_argument("--json", action="store_true")
    i.add_argument("--verify", action="store_true",
                   help="check the SHA-256 of every file (a load checks sizes and the small files only)")
    return ap


def _cmd_build(a) -> int:
    from index_build.build import build

    if a.no_reranker and a.reranker:
        raise MedcodeError("--reranker and --no-reranker exclude each other")
    m = build(a.catalog or ["icd10cm"], a.index, a.model, cache=a.cache,
              reranker=False if a.no_reranker else a.reranker,
              context=a.context, holdout=a.holdout, seed=a.seed, progress=not a.quiet,
              query_prefix=a.query_prefix, passage_prefix=a.passage_prefix,
              dense_index_kind=a.dense_index, dense_vectors=a.dense_vectors,
              language=a.language, index_terms=not a.no_index_terms, lexicons=not a.no_lexicon, index_holdout=a.index_holdout,
              index_wording=a.index_wording, query_precision=a.query_precision)
    c = m["counts"]
    where = Path(a.index).expanduser() if a.index else None
    print(f"built {where or 'the default index'}: {c['suggestable']} codes, {c['strings']} strings "
          f"({c['newly_embedded']} newly embedded), model {m['model']['name']}, {m['build_seconds']} s")
    for line in _index_term_lines(m):
        print(line)
    r = m.get("reranker")
    if r:
        print(f"with a reranker, {'on' if r.get('enabled', True) else 'off'} by default: top {r.get('top')}, "
              f"weight {r.get('weight')}")
    return 0


def _filters(a) -> dict:
    return {"billable_only": a.billable, "prefix": a.prefix, "chapter": a.chapter, "system": a.system,
            "version": a.edition, "levels": "all" if getattr(a, "all_levels", False) else "assignable"}


def _table(result) -> str:
    """Candidates in rank order, each under its category (said again when it changes)."""
    lines = [f"query: {result.query}"]
    if not result.candidates:
        lines.append("  no candidates")
    shown = None
    for n, c in enumerate(result.candidates, 1):
        cat = c.category
        if cat and cat["code"] != c.code and cat["code"] != shown:
            lines.append(f"     {cat['code']}: {cat['title']}")
        shown = cat["code"] if cat else None
        mark = "*" if c.is_leaf else " "
        lines.append(f"{n:>3}. {c.code:<9}{mark} {c.score:7.3f}  {c.title}")
        if c.evidence != c.title or c.found_as:
            where = f" ({c.evidence_kind}{': ' + c.evidence_note if c.evidence_note else ''})" \
                if c.evidence_kind not in ("title", "synonym") else ""
            found = f" -> {c.found_as}, chosen below it" if c.found_as else ""
            lines.append(f"{'':>24}matched: {c.evidence}{where}{found}")
        if c.missing:
            lines.append(f"{'':>24}not said: {', '.join(c.missing)}")
    return "\n".join(lines)


def _cmd_search(a) -> int:
    from .search import Retriever, check_query

    if a.input and a.phrase:
        raise MedcodeError("give a phrase or --input FILE, not both")
    if not a.input and a.phrase is None:
        raise MedcodeError("give a phrase to search, or --input FILE")
    if a.output and not a.input:
        raise MedcodeError("--output needs --input")
    if a.phrase is not None:
        check_query(a.phrase)  # before the index and model load: a typo should fail fast
    retriever = Retriever.load(a.index, model=a.model)
    if a.rerank and a.no_rerank:
        raise MedcodeError("--rerank and --no-rerank exclude each other")
    rerank = False if a.no_rerank else True if a.rerank else None
    if a.input:
        try:
            with open(a.input, encoding="utf-8") as f:
                phrases = [line.rstrip("\n") for line in f]
        except (OSError, UnicodeDecodeError) as exc:
            raise MedcodeError(f"cannot read {a.input}: {exc}") from exc
        if not phrases:
            raise MedcodeError(f"{a.input} is empty: give one phrase per line")
        for n, p in enumerate(phrases, 1):
            if not p.strip():
                raise MedcodeError(f"{a.input}:{n}: empty line (one phrase per line)")
        results = _batched(retriever, phrases, a, rerank)
        out = open(a.output, "w", encoding="utf-8") if a.output else sys.stdout
        try:
            for r in results:
                out.write(json.dumps(r.as_dict(), ensure_ascii=False) + "\n")
        finally:
            if out is not sys.stdout:
                out.close()
        if results and results[0].rerank != "applied":
            print(f"medcode: rerank {results[0].rerank}", file=sys.stderr)
        return 0
    result = retriever.search(a.phrase, a.k, stage=a.stage, rerank=rerank, **_filters(a))
    if a.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(_table(result))
        print(f"(* billable; rerank {result.rerank})")
    return 0


def _batched(retriever, phrases, a, rerank):
    from tqdm.auto import tqdm

    results, step = [], 256
    with tqdm(total=len(phrases), desc="searching", unit="q", file=sys.stderr,
              disable=len(phrases) < 1000) as bar:
        for at in range(0, len(phrases), step):
            results += retriever.search_batch(phrases[at:at + step], a.k, stage=a.stage, rerank=rerank,
                                              **_filters(a))
            bar.update(min(step, len(phrases) - at))
    return results


def _cmd_eval(a) -> int:
    from evaluation.run import evaluate_documents, evaluate_phrases, plot, read_gold, table, to_nearest_listed
    from .search import Retriever

    if a.dev and not a.documents:
        raise MedcodeError("--dev chooses a document-level threshold: it needs --documents")
    if not 1 <= a.k <= 100:
        raise MedcodeError(f"-k must be from 1 to 100, not {a.k}")
    rows = read_gold(a.gold)
    dev = read_gold(a.dev) if a.dev else None
    stages = [s.strip() for s in a.stages.split(",") if s.strip()]
    retriever = Retriever.load(a.index)
    errors = [] if a.errors else None
    mapped = {}
    if a.absent == "ancestor":
        rows, mapped = to_nearest_listed(retriever, rows)
    if a.documents:
        report = evaluate_documents(retriever, rows, stages, a.k, dev=dev, progress=not a.quiet, levels=a.levels,
                                    language=a.language, assertions=not a.no_assertions, scoring=a.scoring)
    else:
        report = evaluate_phrases(retriever, rows, stages, a.k, progress=not a.quiet, errors=errors,
                                  levels=a.levels)
    report["mapped_to_ancestor"] = mapped
    if a.errors:
        with open(a.errors, "w", encoding="utf-8") as f:
            for miss in errors:
                f.write(json.dumps(miss, ensure_ascii=False) + "\n")
    if a.plot:
        plot(report, a.plot, f"{Path(a.gold).name}: recall@k ({report['mode']})")
    if a.json:
        out = {"stages": report["stages"], "gold": str(a.gold), "index": str(retriever.directory),
               "mode": report["mode"], "gold_codes": report["gold_codes"], "gold_absent": report["gold_absent"],
               "mapped_to_ancestor": mapped,
               "model": retriever.manifest["model"]["name"],
               "catalogues": [c["systems"] for c in retriever.manifest["catalogues"]]}
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"gold {a.gold} ({report['mode']}), index {retriever.directory}, "
              f"model {retriever.manifest['model']['name']}")
        print(table(report, a.k))
    return 0


def _cmd_batch(a) -> int:
    from .batch import run

    if a.rerank and a.no_rerank:
        raise MedcodeError("--rerank and --no-rerank exclude each other")
    if not 1 <= a.k <= 1000:
        raise MedcodeError(f"-k must be from 1 to 1000, not {a.k}")
    r = run(a.input, a.output, kind=a.kind, engine=a.engine, index=a.index, k=a.k,
            rerank=False if a.no_rerank else True if a.rerank else None, language=a.language,
            block_size=a.batch_size, workers=a.workers, address=a.address, progress=not a.quiet)
    skipped = f", {r['blocks_skipped']} of {r['blocks']} blocks already done" if r["blocks_skipped"] else ""
    print(f"medcode batch: {r['inputs']} inputs, {r['outputs']} outputs, {r['failures']} failures{skipped}; "
          f"{r['answered_now']} answered in {r['seconds']:.1f} s ({r['per_second']:.1f}/s, {r['engine']}); "
          f"parts in {r['output']}", file=sys.stderr)
    return 0


def _serving_modules() -> None:
    import importlib.util

    for module in ("fastapi", "uvicorn", "mcp"):
        if importlib.util.find_spec(module) is None:
            raise MedcodeError(f"the server needs the {module!r} package: pip install 'medcode[serve]'")


def _cmd_serve(a) -> int:
    _serving_modules()
    from .server import Limits, serve
    from .service import Service

    service = Service.load(a.index or [None])
    where = a.host if ":" not in a.host else f"[{a.host}]"
    print(f"medcode serving {', '.join(str(r.directory) for r in service.retrievers)} at "
          f"http://{where}:{a.port}/ (API docs at /docs; query text is not logged)", file=sys.stderr)
    serve(service, a.host, a.port, Limits(max_body=a.max_body, max_k=a.max_k, max_batch=a.max_batch,
                                          timeout_s=a.timeout,
                                          rerank_budget_s=a.rerank_budget_ms / 1000 if a.rerank_budget_ms else None))
    return 0


def _cmd_mcp(a) -> int:
    _serving_modules()
    from .mcp_server import run_stdio
    from .service import Service

    run_stdio(Service.load(a.index or [None]))
    return 0


def _cmd_diff(a) -> int:
    from index_build.diff import diff

    d = diff(a.old_index, a.catalog, a.system)
    if a.json:
        print(json.dumps(d, indent=2, ensure_ascii=False))
        return 0
    c = d["counts"]
    print(f"{', '.join(d['old'])} ({c['old']} codes) -> {', '.join(d['new'])} ({c['new']} codes)")
    print(f"added {c['added']}, removed {c['removed']}, retitled {c['retitled']}, billable flag changed "
          f"{c['billable_changed']}, inclusion terms changed {c['inclusion_terms_changed']}, excludes changed "
          f"{c['excludes_changed']}")
    for name, sign in (("added", "+"), ("removed", "-"), ("retitled", "~")):
        rows = d[name]
        for row in rows[:a.limit]:
            text = row["new"] if sign == "+" else row["old"] if sign == "-" else f"{row['old']} -> {row['new']}"
            print(f"{sign} {row['code']:<10} {text}")
        if len(rows) > a.limit:
            print(f"  ... {len(rows) - a.limit} more {name} (--json lists all)")
    return 0


def _cmd_info(a) -> int:
    from . import index_files as files

    directory = Path(a.index).expanduser() if a.index else files.default_dir()
    m = files.read_manifest(directory, verify="full" if a.verify else True)
    if a.json:
        print(json.dumps(m, indent=2, ensure_ascii=False))
        return 0
    c = m["counts"]
    print(f"index      {directory}")
    print(f"built      {m['built_at']} by medcode {m['medcode_version']} in {m['build_seconds']} s")
    for cat in m["catalogues"]:
        if "index_terms" not in cat:
            print(f"catalogue  {cat['name']}: {', '.join(cat['systems'])}, {cat['entries']} entries")
    for line in _index_term_lines(m):
        print(line)
    print(f"codes      {c['suggestable']} suggestable, {c['billable']} billable")
    print(f"strings    {c['strings']} ({', '.join(f'{k} {v}' for k, v in c['strings_by_kind'].items())})")
    print(f"model      {m['model']['name']} ({m['model']['dimension']} dimensions, run by ONNX Runtime "
          f"from {m['model']['path']}/, queries in {m['model'].get('query_precision') or 'fp32'})")
    check = m["model"].get("int8_check")
    if check:
        print("int8       " + (f"the encoder's int8 copy against fp32 on {check['strings']} catalogue strings: "
                               f"worst cosine {check['min_cosine']}" if isinstance(check, dict) else check))
    f = m["fusion"]
    print(f"fusion     {f['method']} " + ", ".join(f"{k}={v}" for k, v in f.items() if k != "method"))
    from .search import reranker_settings

    r = reranker_settings(m)
    if r:
        print(f"reranker   {r['path']}, top {r.get('top')}, weight {r.get('weight')}, "
              f"max length {r.get('max_length', 64)}, {cli_models.precision(r)}, {cli_models.margin(r)}, "
              f"{'on' if r.get('enabled', True) else 'off'} by default: {r.get('why', '')}")
    else:
        print("reranker   none")
    print("notes      " + cli_models.notes_line(m.get("notes") or {}))
    if a.verify:
        print(f"verified   SHA-256 of all {len(m['files'])} files")
    return 0


def _index_term_lines(m: dict) -> list[str]:
    """What each index file gave: terms read, kept, and codes the catalogue's edition lacks."""
    out = []
    for cat in m["catalogues"]:
        r = cat.get("index_terms")
        if r:
            dropped = (f"; {r['dropped']} dropped: {r['dropped_codes']} codes not in this edition "
                       f"(e.g. {', '.join(r['dropped_examples'][:5])})") if r["dropped"] else ""
            if r["kind"] == "lexicon":
                out.append(f"lexicon    {cat['name']}: {r['terms']} coded terms, {r['kept']} kept{dropped}")
                continue
            out.append(f"index      {cat['name']}: {r['kind']} {r['edition']}, {r['terms']} terms, "
                       f"{r['kept']} kept, {r['unresolved']} references unresolved{dropped}")
    return out


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    if a.command != "build":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from . import cli_code

        return {"build": _cmd_build, "search": _cmd_search, "code": cli_code.run, "batch": _cmd_batch, "eval": _cmd_eval,
                "train": cli_models.run_train, "tune": cli_models.run_tune, "export": cli_models.run_export,
                "serve": _cmd_serve, "mcp": _cmd_mcp, "diff": _cmd_diff, "info": _cmd_info}[a.command](a)
    except MedcodeError as exc:
        print(f"medcode: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # CatalogError and bad options from the library
        print(f"medcode: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("medcode: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
