"""``medcode code``: a note in, its ranked code set out; a thin layer over ``notes.NoteCoder``."""
from __future__ import annotations

import json
import sys

from .errors import MedcodeError

LANGUAGES = ("en", "es", "de", "fr")


def add_parser(sub) -> None:
    c = sub.add_parser("code", help="code a whole note: mentions, assertions (negated, family, ...), ranked codes")
    c.add_argument("note", nargs="?", metavar="FILE|-", help="the note: a text file, or - for standard input")
    c.add_argument("--index", metavar="DIR", help="index directory (default: $MEDCODE_INDEX, else ~/.cache/medcode/icd10cm)")
    c.add_argument("--language", default="en", choices=LANGUAGES, help="language of the note (default en)")
    c.add_argument("--threshold", type=float, help="score a code needs to be selected (default: the index's, "
                                                   "chosen by medcode tune notes)")
    c.add_argument("--json", action="store_true", help='print {"codes": [...]} as JSON')
    c.add_argument("--all", action="store_true", help="the table lists codes below the threshold too")
    c.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder stage")
    c.add_argument("--rerank", action="store_true",
                   help="rerank with the index's cross-encoder (a mention's codes, where its first two are close)")
    c.add_argument("--no-assertions", action="store_true",
                   help="read every mention as present (negated findings code too)")
    c.add_argument("--input", metavar="NOTES.jsonl", help='one {"id": ..., "text": ...} a line')
    c.add_argument("--output", metavar="CODES.jsonl", help='one {"id": ..., "codes": [...]} a line, in input order')


def _read_note(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.buffer.read().decode("utf-8")
        with open(path, "rb") as f:
            data = f.read(2 * 1024 * 1024 + 1)
    except OSError as exc:
        raise MedcodeError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise MedcodeError("standard input is not UTF-8 text") from None
    if len(data) > 2 * 1024 * 1024:
        raise MedcodeError(f"{path} is over 2 MiB: not a note (the limit is 100,000 characters)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MedcodeError(f"{path} is not UTF-8 text (binary data?)") from None


def _read_notes(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MedcodeError(f"cannot read {path}: {exc}") from exc
    from .batch import id_text_row

    rows = [id_text_row(line, path, n) for n, line in enumerate(lines, 1) if line.strip()]
    if not rows:
        raise MedcodeError(f"{path} holds no notes")
    return rows


def marked(text: str, result, show_all: bool = False) -> str:
    """The note with each coded mention in brackets: [chest pain|1] (rank of its code), and the
    findings that do not code: [fever|negated]."""
    spans = {}
    for rank, c in enumerate(result.codes, 1):
        for m in c.mentions:
            key = (m["start"], m["end"])
            coded = c.selected and m["assertion"] not in ("negated", "hypothetical")
            tag = str(rank) if coded else m["assertion"] if m["assertion"] in ("negated", "hypothetical") else None
            if tag and (show_all or coded or tag in ("negated", "hypothetical")):
                spans.setdefault(key, []).append(tag)
    out, at = [], 0
    for (a, b) in sorted(spans, key=lambda s: (s[0], -s[1])):
        if a < at:
            continue  # inside a span already marked
        tags = list(dict.fromkeys(spans[(a, b)]))[:3]
        out += [text[at:a], "[", text[a:b], "|", ",".join(tags), "]"]
        at = b
    out.append(text[at:])
    return "".join(out)


def table(text: str, result, show_all: bool = False) -> str:
    lines = [marked(text, result, show_all).strip(), ""]
    shown = [c for c in result.codes if c.selected or show_all]
    if not shown:
        lines.append(f"no code reaches the threshold {result.threshold:g} (--all lists the candidates)")
    for rank, c in enumerate(result.codes, 1):
        if c not in shown:
            continue
        mark = "*" if c.selected else " "
        lines.append(f"{rank:>3}. {c.code:<9}{mark} {c.score:6.3f}  {c.title}")
        for m in c.mentions:
            lines.append(f"{'':>22}{m['start']}-{m['end']} {m['assertion']:<12} {m['text'][:60]!r}"
                         + (f" ({m['section']})" if m["section"] else ""))
    lines.append(f"(* selected: score >= {result.threshold:g}, threshold from {result.threshold_from}; "
                 f"{result.mentions} mentions; rerank {result.rerank})")
    return "\n".join(lines)


def run(a) -> int:
    from notes import NoteCoder, check_note

    from .search import Retriever

    if a.input and a.note:
        raise MedcodeError("give a note (FILE or -) or --input NOTES.jsonl, not both")
    if not a.input and not a.note:
        raise MedcodeError("give a note: a text file, - for standard input, or --input NOTES.jsonl")
    if a.output and not a.input:
        raise MedcodeError("--output needs --input")
    if a.rerank and a.no_rerank:
        raise MedcodeError("--rerank and --no-rerank exclude each other")
    rerank = False if a.no_rerank else True if a.rerank else None
    note = check_note(_read_note(a.note)) if a.note else None  # before the index loads: fail fast
    rows = _read_notes(a.input) if a.input else None
    coder = NoteCoder(Retriever.load(a.index))
    kw = {"language": a.language, "threshold": a.threshold, "rerank": rerank, "assertions": not a.no_assertions}
    if rows is None:
        result = coder.code(note, **kw)
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2) if a.json else table(note, result, a.all))
        return 0
    from tqdm.auto import tqdm

    out = open(a.output, "w", encoding="utf-8") if a.output else sys.stdout
    failed = 0
    try:
        for n, row in enumerate(tqdm(rows, desc="coding", unit="note", file=sys.stderr, disable=len(rows) < 20), 1):
            try:
                answer = {"id": row["id"], **coder.code(row["text"], **kw).as_dict()}
            except MedcodeError as exc:  # one bad note does not stop the rest; its line says why
                failed += 1
                answer = {"id": row["id"], "codes": [], "error": str(exc)}
            out.write(json.dumps(answer, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"medcode: coded {len(rows) - failed} of {len(rows)} notes"
          + (f"; {failed} refused (their lines say why)" if failed else ""), file=sys.stderr)
    return 0
