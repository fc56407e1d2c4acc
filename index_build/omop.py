"""OMOP / OHDSI Athena vocabulary downloads (tab-separated CONCEPT.csv, CONCEPT_SYNONYM.csv, and
optionally CONCEPT_RELATIONSHIP.csv and VOCABULARY.csv), filtered by vocabulary_id: the files
OHDSI users already have for SNOMED CT, ICD-10-CM, LOINC and others.

``--catalog omop:/path/to/athena#ICD10CM,LOINC``. Each valid concept (empty invalid_reason) of the
named vocabularies becomes a code: concept_code, concept_name as title, its synonyms from
CONCEPT_SYNONYM. With CONCEPT_RELATIONSHIP, "Is a" links inside the vocabulary give the parent
(the first one listed) and leaves are billable; without it every concept is a leaf. The system is
the vocabulary_id and the version VOCABULARY.csv's vocabulary_version (else "athena"). The files
are read as streams and only the chosen vocabularies are kept.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

from .catalog import CatalogError, Entry

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # Athena's long names and synonyms


def _rows(path: Path, need: tuple[str, ...]):
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader, None)
            if header is None or any(n not in header for n in need):
                raise CatalogError(str(path), 1, f"expected a tab-separated header with {', '.join(need)}")
            at = [header.index(n) for n in need]
            for fields in reader:
                if len(fields) < len(header):
                    raise CatalogError(str(path), reader.line_num, f"{len(fields)} fields, the header has {len(header)}")
                yield reader.line_num, [fields[i] for i in at]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CatalogError(str(path), None, f"cannot read: {exc}") from exc


def read(spec: str) -> list[Entry]:
    where, _, wanted = spec.partition("#")
    folder = Path(where).expanduser()
    vocabularies = {v.strip() for v in wanted.split(",") if v.strip()}
    if not vocabularies:
        raise CatalogError(spec, None, "name the vocabularies to load after '#', e.g. omop:/path/to/athena#ICD10CM")
    concept_file = folder / "CONCEPT.csv"
    if not concept_file.is_file():
        raise CatalogError(str(folder), None, "no CONCEPT.csv here (an Athena download folder is expected)")

    versions = {}
    if (folder / "VOCABULARY.csv").is_file():
        for _, (vid, version) in _rows(folder / "VOCABULARY.csv", ("vocabulary_id", "vocabulary_version")):
            versions[vid] = version
    concepts: dict[str, list] = {}  # concept_id -> [vocabulary, code, name, synonyms, parent id]
    for _, (cid, name, vid, code, invalid) in _rows(
            concept_file, ("concept_id", "concept_name", "vocabulary_id", "concept_code", "invalid_reason")):
        if vid in vocabularies and not invalid.strip() and code.strip() and name.strip():
            concepts[cid] = [vid, code.strip(), " ".join(name.split()), [], None]
    missing = vocabularies - {c[0] for c in concepts.values()}
    if missing:
        raise CatalogError(str(concept_file), None, f"no valid concept of vocabulary {sorted(missing)[0]!r} in it")
    if (folder / "CONCEPT_SYNONYM.csv").is_file():
        for _, (cid, synonym) in _rows(folder / "CONCEPT_SYNONYM.csv", ("concept_id", "concept_synonym_name")):
            if cid in concepts:
                text = " ".join(synonym.split())
                if text and text.lower() != concepts[cid][2].lower() and text not in concepts[cid][3]:
                    concepts[cid][3].append(text)
    hierarchy = (folder / "CONCEPT_RELATIONSHIP.csv").is_file()
    with_children = set()
    if hierarchy:
        for _, (child, parent, rel, invalid) in _rows(folder / "CONCEPT_RELATIONSHIP.csv",
                                                     ("concept_id_1", "concept_id_2", "relationship_id",
                                                      "invalid_reason")):
            if rel == "Is a" and not invalid.strip() and child in concepts and parent in concepts \
                    and concepts[child][0] == concepts[parent][0] and concepts[child][4] is None:
                concepts[child][4] = parent
                with_children.add(parent)
    return [Entry(vid, versions.get(vid, "athena"), code, name, tuple(synonyms),
                  concepts[parent][1] if parent else None, cid not in with_children, (), "code")
            for cid, (vid, code, name, synonyms, parent) in concepts.items()]
