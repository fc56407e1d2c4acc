"""Coded terms: a lexicon of (code, term) pairs, e.g. the spans a site's coders once coded, as
strings of the catalogue's codes. A term leads to its code the way an Alphabetic Index term does;
its code is checked against the build (a code the edition lacks is dropped and counted).

File layout (UTF-8, optionally gzip-compressed): ``code<TAB>term`` a line; ``#`` lines are
comments, and a ``# system: NAME`` comment names the catalogue (default ICD-10-CM).
"""
from __future__ import annotations

import gzip
from pathlib import Path

from .catalog import CatalogError, Term

PREFIX = "lexicon"
KIND = "lexicon"
SHIPPED_DIR = Path(__file__).resolve().parent / "data" / "lexicon"
# The lexicons an ICD-10-CM build reads unless told not to (--no-index-terms)
SHIPPED = ("codiesp-x-train-es.tsv", "codiesp-x-train-en.tsv")
DEFAULT_SYSTEM = "ICD-10-CM"


def is_lexicon(spec: str) -> bool:
    return spec.lower().startswith(PREFIX + ":")


def read(path: str | Path, name: str | None = None) -> list[Term]:
    """The file's terms, in file order, once per (code, term without case)."""
    path = Path(path)
    source = name or str(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise CatalogError(source, None, f"cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CatalogError(source, raw[:exc.start].count(b"\n") + 1, "not UTF-8 text") from exc
    system, out, seen = DEFAULT_SYSTEM, [], set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            head, _, value = line[1:].partition(":")
            if head.strip().lower() == "system" and value.strip():
                system = value.strip()
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise CatalogError(source, n, f"expected 2 tab-separated columns (code, term), found {len(parts)}")
        code, term = parts[0].strip().upper(), " ".join(parts[1].split())
        if not code or not term:
            raise CatalogError(source, n, "a code and a term are both needed")
        if (code, term.lower()) in seen:
            continue
        seen.add((code, term.lower()))
        out.append(Term(system, code, term, KIND, f"{source}:{n}", main=term))
    if not out:
        raise CatalogError(source, None, "no coded terms (expected code<TAB>term lines)")
    return out


def shipped() -> list[Path]:
    return [SHIPPED_DIR / name for name in SHIPPED]
