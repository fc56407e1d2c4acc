"""User catalogues in YAML or CSV/TSV: code, title, synonyms, parent (schema in the README).

Every problem is reported with the file and line, so that a clerk can fix a hand-made list.
"""
from __future__ import annotations

import csv
from pathlib import Path

import yaml

from .catalog import CatalogError, Entry

FIELDS = ("code", "title", "synonyms", "parent", "billable", "excludes")
_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n"}


def read(path: str | Path) -> list[Entry]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        spec = _delimited_spec(path)
        if spec is not None:
            from .delimited import read_spec
            return read_spec(path, spec)
        system, version, rows = _yaml_rows(path)
    elif suffix in (".csv", ".tsv"):
        system, version, rows = _csv_rows(path, "\t" if suffix == ".tsv" else ",")
    else:
        raise CatalogError(str(path), None, "unknown catalogue format (expected .yaml, .yml, .csv or .tsv)")
    return _entries(path, system, version, rows)


def _delimited_spec(path: Path) -> dict | None:
    """A YAML file with ``format: delimited`` describes a code list instead of holding one."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # _yaml_rows reports it with the line
    if isinstance(data, dict) and "format" in data:
        if data["format"] != "delimited":
            raise CatalogError(str(path), None, f"unknown format {data['format']!r} (expected delimited)")
        return data
    return None


def _bool(path: Path, line: int, value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise CatalogError(str(path), line, f"billable must be true or false, not {value!r}")


def _entries(path: Path, system: str, version: str, rows: list[tuple[int, dict]]) -> list[Entry]:
    if not rows:
        raise CatalogError(str(path), None, "the catalogue has no codes")
    lines: dict[str, int] = {}
    for line, row in rows:
        code = row["code"]
        if code in lines:
            raise CatalogError(str(path), line, f"code {code!r} appears twice (first on line {lines[code]})")
        lines[code] = line
    parents = {row["parent"] for _, row in rows if row["parent"]}
    out = []
    for line, row in rows:
        if row["parent"] and row["parent"] not in lines:
            raise CatalogError(str(path), line, f"parent {row['parent']!r} of code {row['code']!r} is not in the catalogue")
        billable = _bool(path, line, row["billable"])
        out.append(Entry(system, version, row["code"], row["title"], tuple(row["synonyms"]),
                         row["parent"] or None,
                         row["code"] not in parents if billable is None else billable,
                         tuple(row["excludes"]), "code"))
    return out


def _clean_row(path: Path, line: int, raw: dict) -> dict:
    unknown = set(raw) - set(FIELDS)
    if unknown:
        raise CatalogError(str(path), line, f"unknown field {sorted(unknown)[0]!r} (expected: {', '.join(FIELDS)})")
    code = str(raw.get("code") or "").strip()
    title = " ".join(str(raw.get("title") or "").split())
    if not code:
        raise CatalogError(str(path), line, "expected a code")
    if not title:
        raise CatalogError(str(path), line, f"code {code!r} has no title")

    def listed(name: str) -> list[str]:
        value = raw.get(name)
        if value is None or value == "":
            return []
        items = value.split("|") if isinstance(value, str) else value
        if not isinstance(items, list):
            raise CatalogError(str(path), line, f"{name} must be a list of strings")
        return [" ".join(str(s).split()) for s in items if str(s).strip()]

    parent = raw.get("parent")
    return {"code": code, "title": title, "synonyms": listed("synonyms"),
            "parent": str(parent).strip() if parent not in (None, "") else None,
            "billable": raw.get("billable"), "excludes": listed("excludes")}


def _yaml_rows(path: Path) -> tuple[str, str, list[tuple[int, dict]]]:
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(str(path), None, f"cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CatalogError(str(path), mark.line + 1 if mark else None,
                           f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(root, yaml.MappingNode):
        raise CatalogError(str(path), 1, "expected a mapping with system, version and codes")
    top = {k.value: v for k, v in root.value}
    for key in top:
        if key not in ("system", "version", "codes"):
            raise CatalogError(str(path), root.start_mark.line + 1,
                               f"unknown top-level key {key!r} (expected system, version, codes)")
    codes = top.get("codes")
    if not isinstance(codes, yaml.SequenceNode):
        raise CatalogError(str(path), (codes or root).start_mark.line + 1, "expected 'codes:' with a list of codes")
    constructor = yaml.constructor.SafeConstructor()
    rows = []
    for node in codes.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            raise CatalogError(str(path), line, "expected a code as a mapping (code:, title:, ...)")
        rows.append((line, _clean_row(path, line, constructor.construct_mapping(node, deep=True))))

    def scalar(key: str, default: str) -> str:
        node = top.get(key)
        return str(node.value).strip() if isinstance(node, yaml.ScalarNode) and node.value else default

    return scalar("system", path.stem), scalar("version", "local"), rows


def _csv_rows(path: Path, delimiter: str) -> tuple[str, str, list[tuple[int, dict]]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            header = reader.fieldnames or []
            meta = [h for h in header if h in ("system", "version")]
            if "code" not in header or "title" not in header:
                raise CatalogError(str(path), 1, f"expected a header with code and title columns, found {header}")
            rows, system, version = [], path.stem, "local"
            for raw in reader:
                line = reader.line_num
                if None in raw:
                    raise CatalogError(str(path), line, f"more fields than the {len(header)} header columns")
                if not any((v or "").strip() for v in raw.values()):
                    continue
                system = (raw.get("system") or system).strip()
                version = (raw.get("version") or version).strip()
                rows.append((line, _clean_row(path, line, {k: v for k, v in raw.items() if k not in meta})))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CatalogError(str(path), None, f"cannot read: {exc}") from exc
    return system, version, rows
