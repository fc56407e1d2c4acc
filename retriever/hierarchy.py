"""Where each code stands: lookups by code (dots optional, newest edition unless pinned) and each
entry's parent and top ancestor. The arrays are computed once at build time and stored in the
index (``entry_parent.npy``, ``entry_root.npy``): a Python walk over 98,000 ICD-10-CM entries was
most of a load."""
from __future__ import annotations

import numpy as np

from .index_files import ENTRY_COLUMNS

COL = {c: i for i, c in enumerate(ENTRY_COLUMNS)}
MAX_DEPTH = 64  # guards against a parent cycle in a user catalogue


def dotless(code: str) -> str:
    return code.replace(".", "").upper()


def code_tables(systems: list[str], versions: list[str], codes: list[str]) -> tuple[dict, dict]:
    """(system, code) -> the entry in the newest edition held; (system, version, code) -> entry.
    The arguments are columns: entry i is (systems[i], versions[i], codes[i])."""
    by_code: dict[tuple[str, str], int] = {}
    by_edition: dict[tuple[str, str, str], int] = {}
    for i, (system, version, code) in enumerate(zip(systems, versions, codes)):
        key = (system, dotless(code))
        by_edition.setdefault((system, version, key[1]), i)
        held = by_code.get(key)
        if held is None or str(version) > str(versions[held]):
            by_code[key] = i
    return by_code, by_edition


def find(tables: tuple[dict, dict], system: str, code: str | None, version: str | None = None) -> int:
    """The entry of ``code`` in ``system`` (the same edition if it has it, else the newest), or -1."""
    if not code:
        return -1
    by_code, by_edition = tables
    if version is not None and (system, version, dotless(code)) in by_edition:
        return by_edition[(system, version, dotless(code))]
    return by_code.get((system, dotless(code)), -1)


def parents_and_roots(entries: list[list]) -> tuple[np.ndarray, np.ndarray]:
    """Each entry's parent (-1 at the top of its hierarchy) and top ancestor (itself at the top)."""
    tables = code_tables(*([e[COL[c]] for e in entries] for c in ("system", "version", "code")))
    parent = np.array([find(tables, e[COL["system"]], e[COL["parent"]], e[COL["version"]]) for e in entries],
                      dtype=np.int32)
    root = np.arange(len(entries), dtype=np.int32)
    for i in range(len(entries)):
        j = i
        for _ in range(MAX_DEPTH):
            p = parent[j]
            if p < 0:
                break
            j = p
        root[i] = j
    return parent, root
