"""``medcode diff OLD_INDEX NEW_CATALOGUE``: what changed between a catalogue edition in an index and
another edition (codes added, removed, retitled; inclusion terms, billable flags and excludes
that changed), so that a coder sees what a yearly update means before rebuilding."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from retriever import index_files as files

from .catalogs import load_all


class Change(NamedTuple):
    code: str
    old: str | None  # title before (None: added)
    new: str | None  # title after (None: removed)


def _key(code: str) -> str:
    return code.replace(".", "").upper()


def diff(index: str | Path, catalogues: list[str], system: str | None = None) -> dict:
    """Compare the suggestable codes of ``system`` (default: each system both sides hold)."""
    directory = Path(index).expanduser()
    files.read_manifest(directory)
    old_rows = [dict(zip(files.ENTRY_COLUMNS, e)) for e in files.read_json(directory / files.ENTRIES)]
    new_rows = [e._asdict() for _, group in load_all(catalogues) for e in group]
    systems = {r["system"] for r in old_rows} & {r["system"] for r in new_rows}
    if system:
        systems &= {system}
    if not systems:
        old_s = ", ".join(sorted({r["system"] for r in old_rows}))
        new_s = ", ".join(sorted({r["system"] for r in new_rows}))
        raise ValueError(f"nothing to compare: the index holds {old_s}, the catalogue {new_s}"
                         + (f", and neither is {system!r}" if system else ""))

    def codes(rows):
        return {(r["system"], _key(r["code"])): r for r in rows
                if r["system"] in systems and r["kind"] not in ("chapter", "block")}

    old, new = codes(old_rows), codes(new_rows)
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    both = sorted(old.keys() & new.keys())
    retitled = [k for k in both if old[k]["title"] != new[k]["title"]]
    billable = [k for k in both if bool(old[k]["is_leaf"]) != bool(new[k]["is_leaf"])]
    terms = [k for k in both if set(old[k]["synonyms"]) != set(new[k]["synonyms"])]
    excludes = [k for k in both if set(old[k]["excludes"]) != set(new[k]["excludes"])]
    return {
        "systems": sorted(systems),
        "old": sorted({f"{r['system']} {r['version']}" for r in old.values()}),
        "new": sorted({f"{r['system']} {r['version']}" for r in new.values()}),
        "counts": {"old": len(old), "new": len(new), "added": len(added), "removed": len(removed),
                   "retitled": len(retitled), "billable_changed": len(billable),
                   "inclusion_terms_changed": len(terms), "excludes_changed": len(excludes)},
        "added": [Change(new[k]["code"], None, new[k]["title"])._asdict() for k in added],
        "removed": [Change(old[k]["code"], old[k]["title"], None)._asdict() for k in removed],
        "retitled": [Change(new[k]["code"], old[k]["title"], new[k]["title"])._asdict() for k in retitled],
        "billable_changed": [{"code": new[k]["code"], "old": bool(old[k]["is_leaf"]), "new": bool(new[k]["is_leaf"])}
                             for k in billable],
        "inclusion_terms_changed": [{"code": new[k]["code"],
                                     "added": sorted(set(new[k]["synonyms"]) - set(old[k]["synonyms"])),
                                     "removed": sorted(set(old[k]["synonyms"]) - set(new[k]["synonyms"]))}
                                    for k in terms],
        "excludes_changed": [{"code": new[k]["code"]} for k in excludes],
    }
