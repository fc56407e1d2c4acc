"""The ICD-10-CM Alphabetic Index, External Cause Index, Table of Neoplasms and Table of Drugs and
Chemicals, read into terms: a string a coder looks up, and the code it leads to.

Two layouts are read:

- the official CMS XML (``<ICD10CM.index>``: ``letter`` / ``mainTerm`` / ``term level=`` with
  ``title`` (holding ``nemod``), ``see``, ``seeAlso``, ``code``, ``manif``; the tables carry an
  ``indexHeading`` and ``cell col=``), streamed;
- its one-row-per-term CSV flattening (``RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code``;
  the tables with one column per table column), which is how the FY2025 main index ships here.

A term's string is its path from the main term down, in index order ("Infarct, infarction,
myocardium, myocardial, ST elevation, anterior (anteroapical) (anterolateral) (...) (wall)"), with
the term's own nonessential modifiers in parentheses as the printed index has them. "see" leads to the target's code (chains followed,
cycles refused); "see also" only when the term has no code of its own. A code ending in "-" leads
to its category and says that more characters are needed. Table cells become strings under their
column's heading ("secondary malignant neoplasm of bone", "poisoning by aspirin, accidental
(unintentional)", "underdosing of insulin").
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator, NamedTuple

from .catalog import CatalogError, Term

SYSTEM = "ICD-10-CM"
KINDS = ("index", "external", "neoplasm", "drug")
SHIPPED_DIR = Path(__file__).resolve().parent / "data" / "icd10cm_index_2025"
SHIPPED = {"index": "ICD10CM_2025_Index.csv.gz", "external": "icd-10-cm-eindex-2025.xml.gz",
           "neoplasm": "icd-10-cm-neoplasm-2025.xml.gz", "drug": "icd-10-cm-drug-2025.xml.gz"}
SHIPPED_EDITION = "FY2025 (CMS/NCHS, April 2025 update)"

# column heading (letters only, lower case) -> the phrase a coder writes; "{}" is the site or substance
_COLUMNS = (
    ("malignantprimary", "malignant neoplasm of {}"),
    ("malignantsecondary", "secondary malignant neoplasm of {}"),
    ("cainsitu", "carcinoma in situ of {}"),
    ("benign", "benign neoplasm of {}"),
    ("uncertain", "neoplasm of uncertain behavior of {}"),
    ("unspecified", "neoplasm of unspecified behavior of {}"),
    # a poisoning of unstated intent is coded accidental (ICD-10-CM guideline I.C.19.e.5.b): the
    # plain phrase is that column's
    ("poisoningaccidental", "poisoning by {}"),
    ("poisoningintentional", "poisoning by {}, intentional self-harm"),
    ("poisoningassault", "poisoning by {}, assault"),
    ("poisoningundetermined", "poisoning by {}, undetermined"),
    ("adverseeffect", "adverse effect of {}"),
    ("underdosing", "underdosing of {}"),
)
_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{0,4})?-?$")


class Line(NamedTuple):
    """One term of an index file as printed: its level (0 for a main term) and what it says."""
    level: int
    title: str
    nemod: str  # nonessential modifiers, "(mellitus) (sugar)"; "" when none
    code: str  # "" when none; may end in "-"
    see: str
    see_also: str
    cells: tuple  # tables: ((column, code), ...)
    where: int  # line of the CSV or position of the XML term, for messages


class Read(NamedTuple):
    kind: str  # one of KINDS
    version: str
    headings: dict  # table column -> heading
    lines: list


def _heading_key(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _kind_of(headings: dict, title: str, name: str) -> str:
    first = _heading_key(" ".join(headings.values()))
    if "malignant" in first:
        return "neoplasm"
    if "poisoning" in first:
        return "drug"
    if "external" in title.lower() or re.search(r"external|eindex", name, re.I):
        return "external"
    return "index"


def _open(path: Path):
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def read(path: str | Path) -> Read:
    """An index file (XML or CSV, optionally gzip-compressed) as its lines in document order."""
    path = Path(path)
    try:
        raw = _open(path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise CatalogError(str(path), None, f"cannot read: {exc}") from exc
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    head = raw.lstrip()[:200]
    if head.startswith(b"<"):
        return _read_xml(path, name, raw)
    return _read_csv(path, name, raw)


def _title_parts(elem: ET.Element) -> tuple[str, str]:
    """(title without nonessential modifiers, the modifiers) of a <title> with mixed content."""
    text, mods = [elem.text or ""], []
    for child in elem:
        (mods if child.tag == "nemod" else text).append("".join(child.itertext()))
        text.append(child.tail or "")
    return " ".join("".join(text).split()).strip(" ,"), " ".join(" ".join(mods).split())


def _read_xml(path: Path, name: str, raw: bytes) -> Read:
    version, doc_title, headings, lines = "", "", {}, []
    stack: list[dict] = []
    n = 0
    try:
        for event, elem in ET.iterparse(io.BytesIO(raw), events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag in ("mainTerm", "term"):
                    n += 1
                    level = 0 if tag == "mainTerm" else int(elem.get("level") or 0)
                    node = {"level": level, "title": "", "nemod": "", "code": "", "see": "", "see_also": "",
                            "cells": [], "where": n}
                    stack.append(node)
                    lines.append(node)
                continue
            text = " ".join("".join(elem.itertext()).split())
            if tag == "version" and not stack:
                version = text
            elif tag == "title" and not stack:
                doc_title = doc_title or text  # the document's title comes before the letters' ("A")
            elif tag == "head":
                headings[int(elem.get("col") or 0)] = text
            elif stack and tag == "title" and not stack[-1]["title"]:
                stack[-1]["title"], stack[-1]["nemod"] = _title_parts(elem)
            elif stack and tag in ("code", "see", "seeAlso", "cell"):
                top = stack[-1]
                if tag == "cell":
                    top["cells"].append((int(elem.get("col") or 0), text))
                elif tag == "code" and not top["code"]:
                    top["code"] = text
                elif tag == "see":
                    top["see"] = text
                elif tag == "seeAlso":
                    top["see_also"] = text
            elif tag in ("mainTerm", "term"):
                stack.pop()
                if tag == "mainTerm":
                    elem.clear()
    except (ET.ParseError, ValueError) as exc:
        raise CatalogError(str(path), None, f"not a readable ICD-10-CM index XML: {exc}") from exc
    if not lines:
        raise CatalogError(str(path), None, "expected <ICD10CM.index> with <mainTerm> elements")
    out = [Line(d["level"], d["title"], d["nemod"], d["code"], d["see"], d["see_also"], tuple(d["cells"]),
                d["where"]) for d in lines]
    return Read(_kind_of(headings, doc_title, name), version or "unknown", headings, out)


def _read_csv(path: Path, name: str, raw: bytes) -> Read:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError(str(path), None, f"not UTF-8 text: {exc}") from exc
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    need = ("Level", "Term")
    if not header or any(c not in header for c in need):
        raise CatalogError(str(path), 1, "expected a header with Level and Term (the CSV layout "
                                         "RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code)")
    col = {c: i for i, c in enumerate(header)}
    fixed = {"RowID", "Letter", "Level", "Term", "See", "SeeAlso", "NonEssModif", "Code"}
    table = [(i, c) for i, c in enumerate(header) if c not in fixed]
    headings = {i + 2: c for i, (_, c) in enumerate(table)}

    def cell(row, c):
        return row[col[c]].strip() if c in col and col[c] < len(row) else ""

    lines = []
    for n, row in enumerate(rows, 2):
        if not any(x.strip() for x in row):
            continue
        try:
            level = int(cell(row, "Level"))
        except ValueError:
            raise CatalogError(str(path), n, f"Level must be a whole number, not {cell(row, 'Level')!r}") from None
        cells = tuple((k + 2, row[i].strip()) for k, (i, _) in enumerate(table) if i < len(row))
        lines.append(Line(level, " ".join(cell(row, "Term").split()), " ".join(cell(row, "NonEssModif").split()),
                          cell(row, "Code"), cell(row, "See"), cell(row, "SeeAlso"), cells, n))
    if not lines:
        raise CatalogError(str(path), None, "no index terms")
    version = (re.search(r"(19|20)\d\d", name) or [""])[0] or "unknown"
    return Read(_kind_of(headings, "", name), version, headings, lines)


# -- from lines to terms --------------------------------------------------------------------

def _key(text: str) -> str:
    """A term's words as a see-reference may spell them: lower case, parentheses and punctuation
    dropped, plurals folded ("Complication(s)", "Complications" and "complication" match)."""
    words = re.sub(r"\([^()]*\)|[^\w'\- ]", " ", text.lower()).split()
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


def _keys(title: str) -> list[str]:
    """What a see-reference may call a term: its title, its first comma part ("myocardium,
    myocardial" is "myocardium"), and either without a trailing NEC."""
    whole = _key(title)
    first = _key(title.split(",")[0])
    out = [whole, first]
    out += [k[:-4] for k in (whole, first) if k.endswith(" nec")]
    return list(dict.fromkeys(out))


# subterms that only join a main term to what follows; a see-reference may skip them
# ("Diabetes, cataract" is "Diabetes, with, cataract")
_CONNECTORS = {"with", "in", "due to", "without", "associated with", "of", "by", "from"}
# a see-reference into the Table of Neoplasms names its column last: "Neoplasm, skin, in situ"
_NEOPLASM_COLUMNS = (("malignant secondary", 3), ("secondary", 3), ("malignant", 2), ("in situ", 4),
                     ("ca in situ", 4), ("benign", 5), ("uncertain behavior", 6), ("uncertain", 6),
                     ("unspecified behavior", 7), ("unspecified", 7))


class _Node:
    __slots__ = ("line", "children", "parent", "keys", "size")

    def __init__(self, line: Line, parent: "_Node | None"):
        self.line, self.parent, self.children = line, parent, []
        self.keys = _keys(line.title)
        self.size = 1  # terms in its subtree


class _Tree:
    def __init__(self, lines: list[Line], path: str):
        self.mains: list[_Node] = []
        stack: list[_Node] = []
        for line in lines:
            if line.level == 0:
                node = _Node(line, None)
                self.mains.append(node)
                stack = [node]
                continue
            if not stack:
                raise CatalogError(path, line.where, f"subterm {line.title!r} before any main term")
            while stack and stack[-1].line.level >= line.level:
                stack.pop()
            if not stack:
                raise CatalogError(path, line.where, f"level {line.level} under no term of a lower level")
            node = _Node(line, stack[-1])
            stack[-1].children.append(node)
            for above in stack:
                above.size += 1
            stack.append(node)
        self.by_key: dict[str, list[_Node]] = {}
        for m in self.mains:
            for k in m.keys:
                self.by_key.setdefault(k, []).append(m)

    def find(self, target: str) -> _Node | None:
        """The term a see-reference names: main term, then subterms, each part matched by its
        title or first comma part; every part must match."""
        parts = [p for p in (_key(x) for x in target.split(",")) if p]
        if not parts:
            return None
        for n in range(min(len(parts), 4), 0, -1):
            # "see Fracture, vertebra": of the main terms called "Fracture ...", the largest (the
            # general one, "Fracture, traumatic") before "Fracture, pathological"
            for main in sorted(self.by_key.get(", ".join(parts[:n]) if n > 1 else parts[0], []),
                               key=lambda m: -m.size):
                found = self._walk(main, parts[n:])
                if found is not None:
                    return found
        return None

    def _walk(self, node: _Node, parts: list[str]) -> _Node | None:
        if not parts:
            return node
        for take in range(min(len(parts), 3), 0, -1):  # a subterm's own title may hold commas
            want = ", ".join(parts[:take])
            for child in node.children:
                if want in child.keys:
                    found = self._walk(child, parts[take:])
                    if found is not None:
                        return found
        for child in node.children:
            if child.keys[0] in _CONNECTORS and not child.line.code and child.keys[0] != parts[0]:
                found = self._walk(child, parts)
                if found is not None:
                    return found
        return None

    def find_site(self, parts: list[str]) -> _Node | None:
        """A site of the Table of Neoplasms, under its one main term."""
        for main in self.mains:
            found = self._walk(main, parts)
            if found is not None:
                return found
        return None


def _modifiers(nemod: str) -> str:
    # "(see also, Infarct, ...)" inside the modifiers is a cross-reference, not words of the term
    return " ".join(m for m in re.findall(r"\([^()]*\)", nemod) if not m[1:].lower().startswith("see")) \
        if "(" in nemod else nemod


def _label(line: Line, modifiers: bool = True) -> str:
    mods = _modifiers(line.nemod) if modifiers else ""
    return f"{line.title} {mods}".strip() if mods else line.title


def _path(node: _Node) -> list[_Node]:
    chain = []
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain[::-1]


def _code(text: str) -> str | None:
    code = text.strip().upper()
    return code if _CODE.match(code) else None


def _neoplasm_ref(ref: str) -> tuple[list[str], int] | None:
    """(site parts, column) of a see-reference into the Table of Neoplasms, or None."""
    parts = [p for p in (_key(x) for x in ref.split(",")) if p]
    if not parts or parts[0] not in ("neoplasm", "table of neoplasm"):
        return None
    for words, column in _NEOPLASM_COLUMNS:
        if parts[-1] == words or len(parts) > 2 and ", ".join(parts[-2:]) == words.replace(" ", ", ", 1):
            site = parts[1:-1] if parts[-1] == words else parts[1:-2]
            return (site, column) if site and not any(p.startswith("by ") for p in site) else None
    return None


def terms(read_: Read, source: str, neoplasms: Read | None = None) -> tuple[list[Term], dict]:
    """Every term that leads to a code, as ``Term``s, and counts of what could not be used.
    ``neoplasms`` (the Table of Neoplasms) resolves the index's "see Neoplasm, <site>, <column>"."""
    tree = _Tree(read_.lines, source)
    table = _Tree(neoplasms.lines, "neoplasms") if neoplasms is not None else None
    kind = read_.kind
    out: list[Term] = []
    unresolved = 0

    def table_cell(ref: str) -> str | None:
        found = _neoplasm_ref(ref) if table is not None else None
        node = table.find_site(found[0]) if found else None
        return _code(dict(node.line.cells).get(found[1], "")) if node is not None else None

    def follow(node: _Node, column: int | None, seen: set) -> str | None:
        """The code a term leads to, following see-references (a cycle leads nowhere)."""
        if id(node) in seen:
            return None
        seen.add(id(node))
        line = node.line
        own = dict(line.cells).get(column, "") if column is not None else line.code
        if _code(own):
            return _code(own)
        for ref in (line.see, line.see_also):
            if ref:
                target = tree.find(ref)
                code = follow(target, column, seen) if target is not None else None
                code = code or (table_cell(ref) if column is None else None)
                if code:
                    return code
        return None

    for main in tree.mains:
        stack = [main]
        while stack:
            node = stack.pop()
            stack.extend(reversed(node.children))
            chain = _path(node)
            line = node.line
            # the term's own nonessential modifiers, not its main term's again on every subterm:
            # they would make most strings long (embedding time) and alike
            words = [n.line.title for n in chain[:-1]] + [_label(line)]
            plain = ", ".join(n.line.title for n in chain)
            where = f"{source}:{line.where}"
            if kind in ("neoplasm", "drug"):
                # a neoplasm's site is the path below the table's one main term; a drug is its whole path
                below = chain[1:] if kind == "neoplasm" else chain
                site, site_plain = ", ".join(words[len(chain) - len(below):]), ", ".join(n.line.title for n in below)
                # the Table of Neoplasms is one main term: a leave-out holds out its sites
                held_by = chain[1].line.title if kind == "neoplasm" and len(chain) > 1 else main.line.title
                cells = dict(line.cells)
                for column, heading in sorted(read_.headings.items()):
                    if column < 2 or column not in cells and not line.see:
                        continue
                    code = follow(node, column, set())
                    if code is None:
                        unresolved += bool(line.see) or bool(cells.get(column, "").strip("- "))
                        continue
                    out.append(_term(code, _table_text(heading, site, kind), kind, where, held_by, line.see,
                                     _table_text(heading, site_plain, kind)))
                continue
            if not (line.code or line.see or line.see_also):
                continue  # a connector ("with", "due to"): its subterms carry the codes
            code = follow(node, None, set())
            if code is None:
                unresolved += bool(line.see or line.code)
                continue
            out.append(_term(code, ", ".join(words), kind, where, main.line.title,
                             line.see if not _code(line.code) else "", plain)
                       ._replace(natural=_natural(chain), levels=tuple(comma_parts(w) for w in words)))
    return out, {"unresolved": unresolved}


def comma_parts(title: str) -> int:
    """The comma parts of one title, outside its parentheses, as the query side reads a term's
    parts (``retriever.index_lookup._slots``): "Crush, crushed, crushing" is 3."""
    return len(re.sub(r"\([^()]*\)", " ", title).split(","))


def _natural(chain: list[_Node]) -> str:
    """A term's path as a phrase is written: the modifiers before the main term, in reverse index
    order, and from the first connector on as printed ("anterior ST elevation myocardium Infarct",
    "Diabetes with amyotrophy"); each title by its first comma part ("Infarct, infarction")."""
    parts = [n.line.title.split(",")[0].strip() for n in chain]
    cut = next((i for i, p in enumerate(parts) if i and p.lower() in _CONNECTORS), len(parts))
    return " ".join(parts[:cut][::-1] + parts[cut:])


def _table_text(heading: str, site: str, kind: str) -> str:
    key = _heading_key(heading)
    for prefix, template in _COLUMNS:
        if key.startswith(prefix):
            if not site:  # the table's own main term: the site is not said
                return template.replace(" of {}", "").replace(" by {}", "")
            return template.format(site)
    return f"{heading}: {site}" if site else heading


def _term(code: str, text: str, kind: str, where: str, main: str, see: str, plain: str) -> Term:
    notes = []
    if see:
        notes.append(f"see {see}")
    if code.endswith("-"):
        notes.append(f"more characters needed ({code})")
    return Term(SYSTEM, code.rstrip("-").rstrip("."), text, kind, where, main=main, note="; ".join(notes),
                plain=plain)


def read_terms(path: str | Path, name: str | None = None, neoplasms: Read | None = None) -> tuple[str, list[Term], dict]:
    """(kind, terms, counts) of one index file."""
    got = read(path)
    found, counts = terms(got, name or str(path), neoplasms)
    return got.kind, found, {"kind": got.kind, "edition": got.version, "lines": len(got.lines), **counts}


def shipped(kinds: tuple[str, ...] = KINDS) -> Iterator[Path]:
    for kind in kinds:
        yield SHIPPED_DIR / SHIPPED[kind]
