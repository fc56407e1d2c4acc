"""Delimited code lists (TSV, CSV, ``;`` or ``|`` separated) as publishers ship them, read where they
lie through a small YAML spec that maps their columns (README, "Catalogues as publishers ship them"):

    format: delimited
    file: valid-codes.tsv        # absolute, ~ or $VAR, or relative to the spec
    system: ICD-O-3
    version: "3.1-es"
    delimiter: "\\t"              # default: tab (.tsv, .txt), "," (.csv)
    header: false                # true: columns may be named by the header line
    columns: {code: 1, title: 2, synonyms: [3], parent: null, billable: null}
    role: {column: 2, title: [title], synonym: [sub, incl]}   # optional, see below
    skip_untitled: true          # rows without a title are skipped, not an error

Rows of the same code merge: the first title is the title, every other text a synonym. With
``role``, a column says what each row is (WHO's ICD-O-3 files: ``title``/``sub``), and rows of
other roles are ignored.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from .catalog import CatalogError, Entry

KEYS = {"format", "file", "system", "version", "language", "delimiter", "header", "encoding", "columns", "role",
        "skip_untitled"}
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
    delimiter = spec.get("delimiter") or ("," if path.suffix.lower() == ".csv" else "\t")
    rows = _rows(path, delimiter, spec.get("encoding", "utf-8-sig"))
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
    parents = {r["parent"] for r in merged.values() if r["parent"]}
    out = []
    for code, r in merged.items():
        if r["title"] is None:
            raise CatalogError(str(path), r["line"], f"code {code!r} has synonyms but no title row")
        if r["parent"] and r["parent"] not in merged:
            raise CatalogError(str(path), r["line"], f"parent {r['parent']!r} of code {code!r} is not in the file")
        seen, synonyms = {r["title"].lower()}, []
        for s in r["synonyms"]:
            if s.lower() not in seen:
                seen.add(s.lower())
                synonyms.append(s)
        billable = (r["billable"] in _TRUE) if r["billable"] else code not in parents
        out.append(Entry(str(spec["system"]), str(spec.get("version", "local")), code, r["title"], tuple(synonyms),
                         r["parent"], billable, (), "code"))
    return out


def _rows(path: Path, delimiter: str, encoding: str) -> list[tuple[int, list[str]]]:
    try:
        with open(path, encoding=encoding, newline="") as f:
            reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE)
            return [(reader.line_num, fields) for fields in reader if any(x.strip() for x in fields)]
    except (OSError, UnicodeDecodeError, csv.Error, LookupError) as exc:
        raise CatalogError(str(path), None, f"cannot read: {exc}") from exc
