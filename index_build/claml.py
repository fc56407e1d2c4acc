"""ClaML, the XML format WHO and BfArM publish classifications in (ICD-10-GM, OPS, ICD-O-3, WHO
ICD-10), read as a stream: each ``Class``, ``Modifier`` and ``ModifierClass`` is turned into a small
record and its element freed, so a 50 MB file needs tens of MB, not gigabytes.

- title: the ``preferred`` rubric (``preferredLong`` when there is none); the label text includes
  its ``Reference`` and ``Fragment`` parts.
- synonyms: ``inclusion`` rubrics, and ``preferredLong`` when it differs from the title.
  ``text``, ``note``, ``coding-hint`` and ``definition`` rubrics are instructions to the coder,
  not names of the code, and are not indexed.
- excludes: ``exclusion`` rubrics. Usage (``dagger``, ``aster``, ``optional``) is kept.
- hierarchy: ``SuperClass``; a class with ``SubClass`` children is not billable.
- modifiers: ``ModifiedBy`` on a class holds for its subclasses too (unless they carry an
  ``ExcludeModifier``); each leaf is expanded into one code per combination of its modifiers'
  classes (``all="false"`` limits them to the listed ``ValidModifierClass``es), coded
  ``leaf code + modifier class code`` and titled ``leaf title: modifier class title``, as the
  publishers' own code lists do.
"""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

from .catalog import CatalogError, Entry

_KINDS = {"chapter": "chapter", "block": "block", "category": "category"}
_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _text(elem: ET.Element) -> str:
    return " ".join("".join(elem.itertext()).split())


class _Reader:
    def __init__(self, path: Path, lang: str | None):
        self.path, self.lang = path, lang
        self.system, self.version = path.stem, "unknown"
        self.classes: dict[str, dict] = {}
        self.order: list[str] = []
        self.modifiers: dict[str, list[str]] = {}  # modifier -> its classes' codes, in order
        self.modifier_classes: dict[tuple[str, str], dict] = {}

    def label(self, rubric: ET.Element) -> str:
        labels = rubric.findall("Label")
        if self.lang is None and labels:
            self.lang = labels[0].get(_LANG)  # the document's first language unless one was asked for
        chosen = [x for x in labels if x.get(_LANG) in (self.lang, None)] or labels
        return _text(chosen[0]) if chosen else ""

    def rubrics(self, elem: ET.Element) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for rubric in elem.findall("Rubric"):
            text = self.label(rubric)
            if text:
                out.setdefault(rubric.get("kind", ""), []).append(text)
        return out

    def read(self) -> list[Entry]:
        try:
            for _, elem in ET.iterparse(self.path, events=("end",)):
                tag = elem.tag
                if tag == "Title":
                    self.system = elem.get("name") or self.system
                    self.version = elem.get("version") or self.version
                elif tag == "Class":
                    self.add_class(elem)
                    elem.clear()
                elif tag == "Modifier":
                    self.modifiers[elem.get("code", "")] = [s.get("code", "") for s in elem.findall("SubClass")]
                    elem.clear()
                elif tag == "ModifierClass":
                    r = self.rubrics(elem)
                    title = (r.get("preferred") or r.get("preferredLong") or [""])[0]
                    self.modifier_classes[(elem.get("modifier", ""), elem.get("code", ""))] = {
                        "title": title, "synonyms": r.get("inclusion", []), "usage": elem.get("usage", "")}
                    elem.clear()
        except ET.ParseError as exc:
            raise CatalogError(str(self.path), exc.position[0], f"not valid ClaML XML: {exc}") from exc
        if not self.classes:
            raise CatalogError(str(self.path), None, "no <Class> elements: not a ClaML classification")
        return self.entries()

    def add_class(self, elem: ET.Element) -> None:
        code = elem.get("code")
        if not code:
            raise CatalogError(str(self.path), None, "a <Class> without a code")
        r = self.rubrics(elem)
        title = (r.get("preferred") or r.get("preferredLong") or [""])[0]
        if not title:
            raise CatalogError(str(self.path), None, f"class {code} has no preferred rubric")
        supers = [s.get("code") for s in elem.findall("SuperClass")]
        long = [t for t in r.get("preferredLong", []) if t != title]
        self.classes[code] = {
            "title": title, "kind": _KINDS.get(elem.get("kind", ""), "code"), "parent": supers[0] if supers else None,
            "children": [s.get("code") for s in elem.findall("SubClass")],
            "synonyms": long + r.get("inclusion", []), "excludes": r.get("exclusion", []),
            "usage": elem.get("usage", ""),
            "modified_by": [(m.get("code", ""), m.get("all", "true") != "false",
                             [v.get("code", "") for v in m.findall("ValidModifierClass")])
                            for m in elem.findall("ModifiedBy")],
            "exclude_modifiers": {m.get("code", "") for m in elem.findall("ExcludeModifier")}}
        self.order.append(code)

    def inherited(self, code: str) -> list[tuple[str, bool, list[str]]]:
        """Modifiers in force for a class: its ancestors' less those it excludes, then its own."""
        chain, c = [], code
        while c in self.classes and len(chain) < 32:
            chain.append(self.classes[c])
            c = self.classes[c]["parent"]
        active: dict[str, tuple[str, bool, list[str]]] = {}
        for cls in reversed(chain):  # from the top down: a class drops what it excludes, then adds its own
            for name in cls["exclude_modifiers"]:
                active.pop(name, None)
            for mod in cls["modified_by"]:
                active[mod[0]] = mod
        return list(active.values())

    def entries(self) -> list[Entry]:
        out = []
        for code in self.order:
            c = self.classes[code]
            if c["parent"] and c["parent"] not in self.classes:
                raise CatalogError(str(self.path), None, f"class {code} names a SuperClass {c['parent']} that is not there")
            leaf = not c["children"] and c["kind"] not in ("chapter", "block")
            mods = self.inherited(code) if leaf else []
            expanded = self.expand(code, c, mods) if mods else []
            out.append(Entry(self.system, self.version, code, c["title"], tuple(c["synonyms"]), c["parent"],
                             leaf and not expanded, tuple(c["excludes"]), c["kind"], c["usage"]))
            out += expanded
        return out

    def expand(self, code: str, c: dict, mods: list[tuple[str, bool, list[str]]]) -> list[Entry]:
        choices = []
        for name, every, valid in mods:
            if name not in self.modifiers:
                raise CatalogError(str(self.path), None, f"class {code} is modified by {name}, which is not defined")
            codes = self.modifiers[name] if every or not valid else [v for v in self.modifiers[name] if v in valid]
            choices.append([(name, m) for m in codes])
        out = []
        for combo in itertools.product(*choices):
            parts = [self.modifier_classes.get(key, {"title": key[1], "synonyms": [], "usage": ""}) for key in combo]
            out.append(Entry(self.system, self.version, code + "".join(m for _, m in combo),
                             ": ".join([c["title"]] + [p["title"] for p in parts]), (), code, True,
                             (), "code", next((p["usage"] for p in parts if p["usage"]), c["usage"])))
        return out


def read(path: str | Path, lang: str | None = None) -> list[Entry]:
    path = Path(path)
    if not path.is_file():
        raise CatalogError(str(path), None, "no such ClaML file")
    return _Reader(path, lang).read()
