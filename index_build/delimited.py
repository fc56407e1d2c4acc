"""Delimited code lists (TSV, CSV, ``;`` or ``|`` separated) as publishers ship them, read where they
lie through a small YAML spec that maps their columns (README, "Catalogues as publishers ship them"):

    format: delimited
    file: valid-codes.tsv        # absolute, ~ or $VAR, or relative to the spec
    system: ICD-O-3
    version: "3.1-es"
    delimiter: "\\t"              # default: tab (.tsv, .txt), "," (.csv)
    quotes: false                # default: true for "," (CSV quoting), false otherwise
    header: false                # true: columns may be named by the header line
    columns: {code: 1, title: 2, synonyms: [3], parent: null, billable: null}
    role: {column: 2, title: [title], synonym: [sub, incl]}   # optional, see below
    skip_untitled: true          # rows without a title are skipped, not an error
    title_path: ": "             # the title cell chains the titles from the top (see below)
    hierarchy: code-prefix       # no parent column: the parent is found from the codes
    range: "..."                 # with code-prefix: "1-10...1-10" is a block of codes
    chapter: "^[0-9]$"           # with code-prefix: codes matching this are chapters

Rows of the same code merge: the first title is the title, every other text a synonym. With
``role``, a column says what each row is (WHO's ICD-O-3 files: ``title``/``sub``), and rows of
other roles are ignored.

``hierarchy: code-prefix`` serves lists that carry no parent column, such as OPS or ICD-10-GM
extracts: a code's parent is the deepest listed code it extends ("5-470.11" under "5-470.1",
"5-470.x" under "5-470") or range that holds it ("5-47" in "5-45...5-49"). Chapters and ranges
give the path but are not suggested. With ``title_path`` the title cell holds the chain of
titles from the chapter down (OPS as parsed from ClaML: "operationen: ...: Appendektomie:
Laparoskopisch"): the code's own title is what follows its parent's chain, and the chain below
the chapter and range is kept as a synonym, because own titles such as "Laparoskopisch" or
"Sonstige" name nothing alone.
"""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path

from .catalog import CatalogError, Entry

KEYS = {"format", "file", "system", "version", "language", "delimiter", "header", "encoding", "columns", "role",
        "skip_untitled", "title_path", "hierarchy", "range", "chapter", "quotes"}
FIELDS = {"code", "title", "synonyms", "parent", "billable"}
_TRUE = {"true", "yes", "1", "y", "j", "ja", "si", "sí"}


def read_spec(spec_path: Path, spec: dict) -> list[Entry]:
    where = str(spec_path)
    unknown = set(spec) - KEYS
    if unknown:
        raise CatalogError(where, None, f"unknown key {sorted(unknown)[0]!r} in a delimited spec "
                                        f"(expected: {', '.join(sorted(KEYS))})")
    for key in ("file", "system", "columns"):
        if not spec.get(key):
            raise CatalogError(where, None, f"a delimited spec needs '{key}:'")
    path = Path(os.path.expandvars(str(spec["file"]))).expanduser()
    if not path.is_absolute():
        path = spec_path.parent / path
    if not path.is_file():
        raise CatalogError(where, None, f"file {path} does not exist")
    columns = spec["columns"]
    if not isinstance(columns, dict) or set(columns) - FIELDS or "code" not in columns or "title" not in columns:
        raise CatalogError(where, None, f"columns must map code and title (and optionally "
                                        f"{', '.join(sorted(FIELDS - {'code', 'title'}))}) to columns")
    hierarchy = spec.get("hierarchy")
    if hierarchy not in (None, "code-prefix"):
        raise CatalogError(where, None, f"hierarchy must be code-prefix (or left out), not {hierarchy!r}")
    if hierarchy and columns.get("parent"):
        raise CatalogError(where, None, "hierarchy: code-prefix and a parent column exclude each other")
    if (spec.get("range") or spec.get("chapter")) and not hierarchy:
        raise CatalogError(where, None, "range: and chapter: need hierarchy: code-prefix")
    try:
        chapter = re.compile(spec["chapter"]) if spec.get("chapter") else None
    except re.error as exc:
        raise CatalogError(where, None, f"chapter: is not a regular expression ({exc})") from exc
    delimiter = spec.get("delimiter") or ("," if path.suffix.lower() == ".csv" else "\t")
    quotes = spec.get("quotes", delimiter == ",")
    rows = _rows(path, delimiter, spec.get("encoding", "utf-8-sig"), bool(quotes))
    header = rows.pop(0)[1] if spec.get("header") else None

    def position(name, value) -> int | None:
        if value is None:
            return None
        if isinstance(value, int) and value >= 1:
            return value - 1
        if header is not None and str(value) in header:
            return header.index(str(value))
        raise CatalogError(where, None, f"column {value!r} of {name} is neither a position from 1 nor "
                                        + (f"a header name ({', '.join(header)})" if header else "a name (header: false)"))

    code_at, title_at = position("code", columns["code"]), position("title", columns["title"])
    synonyms = columns.get("synonyms") or []
    synonym_at = [position("synonyms", s) for s in (synonyms if isinstance(synonyms, list) else [synonyms])]
    parent_at, billable_at = position("parent", columns.get("parent")), position("billable", columns.get("billable"))
    role = spec.get("role") or {}
    role_at = position("role", role.get("column")) if role else None
    title_roles, synonym_roles = set(role.get("title", [])), set(role.get("synonym", []))

    def cell(fields: list[str], at: int | None) -> str:
        if at is None or at >= len(fields):
            return ""
        return " ".join(fields[at].strip().strip('"').split())

    merged: dict[str, dict] = {}
    for line, fields in rows:
        code = cell(fields, code_at)
        if not code:
            raise CatalogError(str(path), line, "no code in this row")
        kind = cell(fields, role_at) if role_at is not None else None
        if kind is not None and kind not in title_roles | synonym_roles:
            continue
        text = cell(fields, title_at)
        if not text:
            if spec.get("skip_untitled"):
                continue
            raise CatalogError(str(path), line, f"code {code!r} has no title (skip_untitled: true skips such rows)")
        row = merged.setdefault(code, {"title": None, "synonyms": [], "line": line, "parent": None,
                                       "billable": None})
        if (kind is None or kind in title_roles) and row["title"] is None:
            row.update(title=text, line=line, parent=cell(fields, parent_at) or None,
                       billable=cell(fields, billable_at).lower() or None)
        else:
            row["synonyms"].append(text)
        row["synonyms"] += [s for s in (cell(fields, at) for at in synonym_at) if s]
    if not merged:
        raise CatalogError(str(path), None, "no code with a title in this file")
    for code, r in merged.items():
        if r["title"] is None:
            raise CatalogError(str(path), r["line"], f"code {code!r} has synonyms but no title row")
    kinds = {code: "code" for code in merged}
    if hierarchy:
        marker = spec.get("range")
        for code in merged:
            if marker and marker in code:
                kinds[code] = "block"
            elif chapter and chapter.search(code):
                kinds[code] = "chapter"
        parent_of = code_prefix_parents(list(merged), marker or None)
        for code, r in merged.items():
            r["parent"] = parent_of.get(code)
    if spec.get("title_path"):
        _own_titles(merged, kinds, str(spec["title_path"]))
    parents = {r["parent"] for r in merged.values() if r["parent"]}
    out = []
    for code, r in merged.items():
        if r["parent"] and r["parent"] not in merged:
            raise CatalogError(str(path), r["line"], f"parent {r['parent']!r} of code {code!r} is not in the file")
        seen, synonyms = {r["title"].lower()}, []
        for s in r["synonyms"]:
            if s.lower() not in seen:
                seen.add(s.lower())
                synonyms.append(s)
        billable = (r["billable"] in _TRUE) if r["billable"] else (code not in parents and kinds[code] == "code")
        out.append(Entry(str(spec["system"]), str(spec.get("version", "local")), code, r["title"], tuple(synonyms),
                         r["parent"], billable, (), kinds[code]))
    return out


def code_prefix_parents(codes: list[str], range_marker: str | None) -> dict[str, str]:
    """Each code's parent: the deepest listed code or range that holds it."""
    listed = set(codes)
    ranges = [c for c in codes if range_marker and range_marker in c]

    def bounds(code: str) -> tuple[str, str]:
        if range_marker and range_marker in code:
            lo, hi = code.split(range_marker, 1)
            return lo, hi
        return code, code

    def holds(outer: str, inner: str) -> bool:
        lo, hi = bounds(inner)
        if range_marker and range_marker in outer:
            a, b = bounds(outer)
            return outer != inner and a <= lo[:len(a)] and hi[:len(b)] <= b
        # a range of categories is held by their chapter, not by its first category ("1-10")
        inner_is_range = range_marker is not None and range_marker in inner
        return (outer != inner and lo.startswith(outer) and hi.startswith(outer)
                and not (inner_is_range and len(lo) <= len(outer)))

    parents = {}
    for code in codes:
        holders = [r for r in ranges if holds(r, code)]
        prefix = bounds(code)[0]
        while prefix:
            prefix = prefix[:-1]
            stem = prefix.rstrip(".-/ ")
            if stem in listed and not (range_marker and range_marker in stem) and holds(stem, code):
                holders.append(stem)
                break
        # the holder that every other holder holds is the nearest
        nearest = [h for h in holders if all(o == h or holds(o, h) for o in holders)]
        if nearest:
            parents[code] = nearest[0]
    return parents


def _own_titles(merged: dict[str, dict], kinds: dict[str, str], separator: str) -> None:
    """Cut each chained title to the code's own, keeping the chain below chapter and range."""
    chains = {code: r["title"] for code, r in merged.items()}
    for code, r in merged.items():
        chain, parent = chains[code], r["parent"]
        head = chains.get(parent) if parent else None
        if head and chain.startswith(head + separator):
            own = chain[len(head) + len(separator):]
        else:
            own = chain.rsplit(separator, 1)[-1]
        r["title"] = own.strip() or chain
        # the part of the chain that names suggestable codes: drop the chapter's and ranges' titles
        top = parent
        while top and kinds.get(top) == "code":
            top = merged[top]["parent"]
        context = chain[len(chains[top]) + len(separator):] if top and chain.startswith(chains[top] + separator) else chain
        if kinds[code] == "code" and context != r["title"]:
            r["synonyms"].insert(0, context)


def _rows(path: Path, delimiter: str, encoding: str, quotes: bool) -> list[tuple[int, list[str]]]:
    # WHO's tab-separated files quote some labels and break one over two lines: read them
    # without CSV quoting (cell() drops the quote marks); comma-separated files need it.
    try:
        with open(path, encoding=encoding, newline="") as f:
            reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quotes else csv.QUOTE_NONE)
            return [(reader.line_num, fields) for fields in reader if any(x.strip() for x in fields)]
    except (OSError, UnicodeDecodeError, csv.Error, LookupError) as exc:
        raise CatalogError(str(path), None, f"cannot read: {exc}") from exc
