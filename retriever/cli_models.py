"""``medcode train``, ``medcode tune`` and ``medcode export``: making an index's models and
choosing its settings on dev sets; a thin layer over ``index_build`` (imported when a command runs)."""
from __future__ import annotations

from pathlib import Path

from .errors import MedcodeError


def add_parsers(sub, index_arg) -> None:
    """The three commands' parsers; ``index_arg`` adds the shared ``--index`` option."""
    t = sub.add_parser("train", help="tune models on the index's catalogue")
    tsub = t.add_subparsers(dest="what", required=True)
    te = tsub.add_parser("encoder", help="contrastive tuning of the bi-encoder, then a rebuild")
    index_arg(te)
    te.add_argument("--out", metavar="DIR", help="where the tuned model goes (default: beside the index)")
    te.add_argument("--minutes", type=float, default=50, help="training time limit (default 50)")
    te.add_argument("--epochs", type=int, default=3)
    te.add_argument("--batch-size", type=int, default=64)
    te.add_argument("--lr", type=float, default=3e-5)
    te.add_argument("--seed", type=int, default=0)
    te.add_argument("--no-rebuild", action="store_true", help="train only; do not rebuild the index")
    te.add_argument("--pairs", metavar="GOLD.jsonl", action="append", default=[],
                    help="extra (text, codes) pairs from a TRAIN split, e.g. Spanish spans (repeatable)")
    te.add_argument("--quiet", action="store_true", help="no progress bar")
    ti = tsub.add_parser("interpolate", help="WiSE-FT: weights between a base encoder and its tuned copy")
    ti.add_argument("--base", metavar="NAME|PATH", default="all-MiniLM-L6-v2", help="the untuned model")
    ti.add_argument("--tuned", metavar="PATH", required=True, help="the tuned model (same architecture)")
    ti.add_argument("--alpha", type=float, required=True, help="share of the tuned weights, 0 to 1")
    ti.add_argument("--out", metavar="DIR", required=True)
    tr = tsub.add_parser("reranker", help="listwise cross-encoder on hybrid-mined hard negatives, "
                                          "judged on dev sets and put into the index")
    index_arg(tr)
    tr.add_argument("--base", metavar="NAME|PATH", help="model to start from (default: the index's encoder)")
    tr.add_argument("--dev", metavar="GOLD.jsonl", action="append", default=[],
                    help="dev gold set to choose the weight and decide on/off (repeatable; never a test set)")
    tr.add_argument("--minutes", type=float, default=50, help="training time limit (default 50)")
    tr.add_argument("--epochs", type=int, default=1)
    tr.add_argument("--batch-size", type=int, default=16, help="queries per step (default 16)")
    tr.add_argument("--group-size", type=int, default=8, help="candidates per query: its code + negatives")
    tr.add_argument("--lr", type=float, default=5e-5)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--top", type=int, default=10, help="candidates reranked per search (default 10)")
    tr.add_argument("--max-length", type=int, default=48, help="tokens per (query, candidate) pair")
    tr.add_argument("--quantize", choices=("int8", "none"), default="none",
                    help="int8: dynamic int8 weights at search time, 3x faster, but ~0.1 noise per logit "
                         "that cost 1-3 points of acc@1 in our measurements (default none: fp32)")
    tr.add_argument("--min-gain", type=float, default=0.005,
                    help="acc@1 it must gain on every dev set to be on by default (default 0.005)")
    tr.add_argument("--max-queries", type=int, help="train on at most this many queries")
    tr.add_argument("--layers", type=int, help="distil a smaller reranker from --base (a trained cross-encoder): "
                                                 "keep this many of its layers, learn its scores")
    tr.add_argument("--pairs", metavar="GOLD.jsonl", action="append", default=[],
                    help="extra (text, codes) queries from a TRAIN split, e.g. Spanish spans (repeatable)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    tu = sub.add_parser("tune", help="choose settings on dev gold sets")
    tusub = tu.add_subparsers(dest="what", required=True)
    tf = tusub.add_parser("fusion", help="fusion weights for this index's catalogue, language and encoder")
    index_arg(tf)
    _dev_sets(tf, "GOLD.jsonl", "dev gold set (repeatable; never a test set)")
    _report_only(tf)
    tn = tusub.add_parser("notes", help="how a note's codes are scored (--train: a learned scorer) and the score "
                                         "they need to be selected (medcode code), chosen on dev notes")
    index_arg(tn)
    _dev_sets(tn, "NOTES.jsonl", 'dev notes, {"text": ..., "codes": [...]} a line (repeatable; never a test set)')
    tn.add_argument("--train", metavar="NOTES.jsonl", action="append", default=[],
                    help="fit a note scorer on these notes' gold codes first (repeatable; a train split)")
    tn.add_argument("--scorer", choices=("trees", "logistic"), default="trees",
                    help="with --train: boosted decision trees (default) or a logistic model")
    tn.add_argument("--rule", action="store_true", help="drop a learned scorer: score by the hand rule")
    tn.add_argument("--language", default="en", choices=("en", "es", "de", "fr"), help="the notes' language")
    _report_only(tn)
    tr2 = tusub.add_parser("reranker", help="judge the index's reranker again on dev sets: candidate count, "
                                            "weight, on or off")
    index_arg(tr2)
    _dev_sets(tr2, "GOLD.jsonl", "dev gold set (repeatable; never a test set)")
    tr2.add_argument("--tops", default="10,20,30", help="candidate counts to try (default 10,20,30)")
    tr2.add_argument("--min-gain", type=float, default=0.005,
                     help="acc@1 it must add on every dev set to be on by default (default 0.005)")
    tr2.add_argument("--quantize", choices=("int8", "none"),
                     help="judge and record the reranker at this precision (default: the index's)")
    _report_only(tr2)

    x = sub.add_parser("export", help="an index's trained encoder or reranker as a folder other builds can use")
    x.add_argument("part", choices=("encoder", "reranker"))
    index_arg(x)
    x.add_argument("--out", required=True, metavar="DIR", help="folder to write (replaced whole)")
    x.add_argument("--fp32", action="store_true", help="keep fp32 weights (default fp16: half the size)")


def _dev_sets(p, metavar: str, help: str) -> None:
    p.add_argument("--dev", metavar=metavar, action="append", default=[], required=True, help=help)


def _report_only(p) -> None:
    p.add_argument("--dry-run", action="store_true", help="report only; leave the manifest as it is")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_train(a) -> int:
    if a.what == "reranker":
        return _train_reranker(a)
    if a.what == "interpolate":
        from index_build.train_encoder import interpolate

        try:
            r = interpolate(a.base, a.tuned, a.alpha, a.out)
        except ValueError as exc:
            raise MedcodeError(str(exc)) from exc
        print(f"{r['out']}: {r['alpha']} x {r['tuned']} + {1 - r['alpha']:.2f} x {r['base']}")
        return 0
    from index_build.train_encoder import rebuild_with, train
    from . import index_files as files

    for path in a.pairs:
        if not Path(path).is_file():
            raise MedcodeError(f"no pairs file at {path}")
    report = train(a.index, a.out, minutes=a.minutes, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                   seed=a.seed, progress=not a.quiet, extra=tuple(a.pairs))
    print(f"trained {report['steps']} of {report['planned_steps']} steps on {report['pairs']} catalogue pairs "
          f"in {report['minutes']} min; held-out pairs ({report['held_out_pairs']}, nearest of "
          f"{report['held_out_candidates']} titles) acc@1 {report['held_out_acc@1_before']:.3f} -> "
          f"{report['held_out_acc@1_after']:.3f}; model in {report['out']}")
    if not a.no_rebuild:
        directory = Path(a.index).expanduser() if a.index else files.default_dir()
        m = rebuild_with(directory, Path(report["out"]), progress=not a.quiet)
        print(f"rebuilt {directory} with the tuned encoder in {m['build_seconds']} s")
    return 0


def _train_reranker(a) -> int:
    from index_build.train_reranker import train

    for path in a.dev + a.pairs:
        if not Path(path).is_file():
            raise MedcodeError(f"no gold file at {path}")
    r = train(a.index, base=a.base, dev=a.dev, minutes=a.minutes, epochs=a.epochs, batch_size=a.batch_size,
              group_size=a.group_size, lr=a.lr, seed=a.seed, top=a.top, max_length=a.max_length,
              quantize=None if a.quantize == "none" else a.quantize, min_gain=a.min_gain, max_queries=a.max_queries,
              extra=a.pairs, layers=a.layers, progress=not a.quiet)
    print(f"trained {r['steps']} of {r['planned_steps']} steps on {r['groups']} query groups "
          f"(1 + {r['group_size'] - 1} hard negatives) from {r['base_model']} in {r['minutes']} min")
    for name, s in r["sets"].items():
        print(f"  {name} ({s['queries']} queries): hybrid acc@1 {s['hybrid_acc@1']:.3f}, "
              f"+ rerank {s['rerank_acc@1']:.3f}")
    print(f"reranker {'ON' if r['enabled'] else 'OFF'} by default: {r['why']}")
    return 0


def run_tune(a) -> int:
    from index_build.tune_fusion import tune

    for path in a.dev:
        if not Path(path).is_file():
            raise MedcodeError(f"no gold file at {path}")
    if a.what == "reranker":
        return _tune_reranker(a)
    if a.what == "notes":
        return _tune_notes(a)
    r = tune(a.index, a.dev, progress=not a.quiet, write=not a.dry_run)

    def line(row: dict) -> str:
        return "; ".join(f"{n}: acc@1 {v['acc@1']:.3f} recall@10 {v['recall@10']:.3f}" for n, v in row["sets"].items())

    print(f"before: {r['before']['fusion']}\n  {line(r['before'])}")
    print(f"chosen: {r['chosen']['fusion']}\n  {line(r['chosen'])}")
    print("(not written: --dry-run)" if a.dry_run else f"written to {r['index']}/manifest.json")
    return 0


def _tune_notes(a) -> int:
    from index_build.tune_notes import tune

    for path in a.train:
        if not Path(path).is_file():
            raise MedcodeError(f"no gold file at {path}")
    r = tune(a.index, a.dev, a.language, progress=not a.quiet, write=not a.dry_run, train=a.train, rule=a.rule,
             kind=a.scorer)
    c, rule = r["chosen"], r["rule"]
    held = r["before"]
    print(f"before: threshold {held['threshold']:g} ({held['from']})" if held["threshold"] is not None
          else f"before: {held['from']}")
    print(f"hand rule on {c['notes']} dev notes: MAP {rule['map']:.3f}, micro-F1 {rule['micro_f1']:.3f} "
          f"at threshold {rule['threshold']:g}")
    scoring = "learned scorer" if "scorer" in c else "hand rule"
    print(f"chosen ({scoring}): threshold {c['threshold']:g} on {c['notes']} dev notes: micro-F1 "
          f"{c['dev_micro_f1']:.3f} (precision {c['dev_precision']:.3f}, recall {c['dev_recall']:.3f}), "
          f"MAP {c['dev_map']:.3f}")
    if (c.get("scorer") or {}).get("trained"):
        t = c["scorer"]["trained"]
        how = t.get("kind", "logistic") + (f", L2 {t['l2']:g} (dev MAP by L2: {t['dev_map_by_l2']})" if "l2" in t
                                           else f" {t.get('settings', '')}")
        print(f"scorer fitted on {t['notes']} notes ({t['candidates']} candidate codes, {t['positives']} gold), {how}")
    print("(not written: --dry-run)" if a.dry_run else f"written to {r['index']}/manifest.json")
    return 0


def notes_line(notes: dict) -> str:
    """How the index scores a note's codes (``medcode code``) and where its threshold came from."""
    if "threshold" not in notes:
        return "hand rule, threshold 0.9 by default (medcode tune notes chooses one)"
    where = f"threshold {notes['threshold']:g} (best micro-F1 on {', '.join(notes.get('tuned_on', [])) or 'dev notes'})"
    held = notes.get("scorer")
    if not held:
        return f"hand rule, {where}"
    trained = held.get("trained") or {}
    kind = held.get("kind", "logistic")
    shape = f"{len(held.get('trees', []))} trees" if kind == "trees" else f"{len(held.get('weights', []))} weights"
    fitted = f", fitted on {trained['notes']} notes" if trained.get("notes") else ""
    return (f"learned scorer, {kind} ({shape}{fitted}{', cross-fitted' if trained.get('cross_fitted') else ''}), "
            f"{where}")


def precision(reranker: dict) -> str:
    return reranker.get("quantize") or "fp32"


def margin(reranker: dict) -> str:
    m = reranker.get("margin")
    return "every query" if m is None else f"queries whose top two are within {m:.4g}"


def _tune_reranker(a) -> int:
    from index_build.train_reranker import retune

    try:
        tops = [int(t) for t in a.tops.split(",") if t.strip()]
    except ValueError:
        raise MedcodeError(f"--tops takes candidate counts such as 10,20,30, not {a.tops!r}") from None
    if not tops or not all(1 <= t <= 100 for t in tops):
        raise MedcodeError("--tops: candidate counts from 1 to 100")
    try:
        r = retune(a.index, a.dev, tops, a.min_gain, progress=not a.quiet, write=not a.dry_run, quantize=a.quantize)
    except ValueError as exc:
        raise MedcodeError(str(exc)) from None
    before, after = r["before"], r["after"]
    print(f"before: top {before.get('top')}, weight {before.get('weight')}, {precision(before)}, "
          f"{'on' if before.get('enabled') else 'off'}")
    print(f"after:  top {after['top']}, weight {after['weight']:g}, {precision(after)}, {margin(after)}, "
          f"{'on' if after['enabled'] else 'off'}: {after['why']}")
    for name, d in after.get("dev", {}).items():
        if "reranked_share" in d:
            print(f"  {name}: hybrid {d['hybrid_acc@1']:.3f}, rerank every query {d['rerank_acc@1']:.3f}, "
                  f"rerank {d['reranked_share']:.0%} of queries (the unsure) {d['margin_acc@1']:.3f}")
    print("(not written: --dry-run)" if a.dry_run else f"written to {r['index']}/manifest.json")
    return 0


def run_export(a) -> int:
    from index_build.export import export

    r = export(a.part, a.index, a.out, fp32=a.fp32)
    print(f"exported the {r['part']} {r['source']} to {r['out']} ({r['bytes'] / 2**20:.1f} MiB)")
    return 0
