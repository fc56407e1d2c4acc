"""BfArM's ICD-10-GM classification in its EDV text format (``icd10gmYYYYsyst_kodes.txt``): one
code per line, ``;``-separated, as BfArM ships it in the "Systematik" download (ZIP, EDV-Fassung).

Columns used (BfArM's file description): 1 level (3, 4, 5 characters), 2 place in the tree
(T terminal, N not), 4 chapter number, 7 code without "-", 9 title, 13 use for §295 SGB V
(P primary, O only as asterisk, Z only as "!", V not to be used). A code is billable when
it is terminal and usable (P, O or Z). The file names no chapter or block titles (they are in
separate files of the download); chapters become nodes titled by their number.
"""
from __future__ import annotations

import re
from pathlib import Path

from .catalog import CatalogError, Entry

SYSTEM = "ICD-10-GM"
_USABLE = {"P", "O", "Z"}
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV", "XVI",
          "XVII", "XVIII", "XIX", "XX", "XXI", "XXII")


def _version(path: Path) -> str:
    found = re.search(r"(19|20)\d\d", path.name)
    return found.group(0) if found else "unknown"


def read_edv(path: str | Path, version: str | None = None) -> list[Entry]:
    path = Path(path)
    version = version or _version(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        lines = path.read_text(encoding="latin-1").splitlines()  # older editions are ISO 8859-1
    except OSError as exc:
        raise CatalogError(str(path), None, f"cannot read: {exc.strerror or exc}") from exc
    rows, chapters = [], {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        f = line.split(";")
        if len(f) < 13 or f[0] not in ("3", "4", "5") or f[1] not in ("T", "N"):
            raise CatalogError(str(path), n, "not a line of BfArM's ICD-10-GM EDV format (expected 'level;T|N;...;"
                                             "code;...;title;...' with at least 13 ';'-separated fields)")
        code, title, chapter = f[6].strip(), f[8].strip(), f[3].strip()
        if not code or not title:
            raise CatalogError(str(path), n, "empty code or title")
        chapters.setdefault(chapter, n)
        rows.append((n, f[0], f[1], chapter, code, title, f[12].strip()))
    if not rows:
        raise CatalogError(str(path), None, "the file holds no codes")
    known = {r[4] for r in rows}
    out = [Entry(SYSTEM, version, _chapter_code(c), f"Kapitel {_chapter_code(c)}", kind="chapter", is_leaf=False)
           for c in chapters]
    for n, level, place, chapter, code, title, use in rows:
        parent = _chapter_code(chapter) if level == "3" else code[:len(code) - 1].rstrip(".")
        if level != "3" and parent not in known:
            raise CatalogError(str(path), n, f"code {code} has no parent {parent} in the file")
        out.append(Entry(SYSTEM, version, code, title, parent=parent, is_leaf=place == "T" and use in _USABLE,
                         kind="category" if level == "3" else "code"))
    return out


def _chapter_code(number: str) -> str:
    return _ROMAN[int(number) - 1] if number.isdigit() and 1 <= int(number) <= len(_ROMAN) else number


def read_alphaid(path: str | Path) -> list[Entry]:
    """BfArM Alpha-ID / Alpha-ID-SE (EDV text, ``|``-separated: validity, Alpha-ID, primary code,
    star code, additional code, second primary code, [ORPHA,] term): each valid term becomes a
    synonym of the ICD-10-GM codes it names. The records are supplements (kind ``supplement``):
    ``load_all`` merges them into an ICD-10-GM catalogue of the same build."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as exc:
        raise CatalogError(str(path), None, f"cannot read: {exc.strerror or exc}") from exc
    version = _version(path)
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        f = line.split("|")
        if len(f) < 7 or f[0] not in ("0", "1"):
            raise CatalogError(str(path), n, "not a line of BfArM's Alpha-ID format "
                                             "('validity|Alpha-ID|code|star|additional|code2|...|term')")
        term = " ".join(f[-1].split())
        if f[0] != "1" or not term:
            continue
        for code in {c.strip().rstrip("+*!†") for c in (f[2], f[3], f[5]) if c.strip()}:
            out.append(Entry(SYSTEM, version, code, term, kind="supplement"))
    return out
