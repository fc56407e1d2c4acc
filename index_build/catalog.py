"""The one record type every catalogue reader produces, and the errors they raise."""
from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    """One code of a catalogue.

    ``kind`` tells what the code is in the catalogue's hierarchy (``chapter``, ``block``,
    ``category``, ``code``, ``extension``). Chapters and blocks give the hierarchy its path but
    are not suggested: a coder never assigns them. An ``extension`` (ICD-10-CM's 7th-character
    codes) is assigned but not indexed by its own strings: it is found through the code it
    extends, its character chosen from the phrase.
    """

    system: str
    version: str
    code: str
    title: str
    synonyms: tuple[str, ...] = ()
    parent: str | None = None
    is_leaf: bool = True
    excludes: tuple[str, ...] = ()
    kind: str = "code"
    usage: str = ""  # ClaML usage: dagger, aster (asterisk), optional; empty when the catalogue has none

    @property
    def suggestable(self) -> bool:
        return self.kind not in ("chapter", "block")


class CatalogError(ValueError):
    """A catalogue file that cannot be read; the message names the file and place."""

    def __init__(self, source: str, where: str | int | None, problem: str):
        self.source, self.where, self.problem = source, where, problem
        place = f"{source}:{where}" if isinstance(where, int) else (
            f"{source} ({where})" if where else source)
        super().__init__(f"{place}: {problem}")


class Term(NamedTuple):
    """A string that leads to a code from outside the code's own record: a term of an alphabetic
    index or a cell of a table, as a coder looks it up. ``kind`` says where it is from
    (``index``, ``external``, ``neoplasm``, ``drug``) and ``source`` the file and line."""

    system: str
    code: str  # the code it leads to, with its dot; a trailing "-" (more characters) removed
    text: str  # what is indexed and shown as evidence: the path from the main term down
    kind: str
    source: str
    main: str = ""  # its main term, by which a leave-out holds terms out
    note: str = ""  # what a coder should know: "see Infarct, myocardium", "more characters needed (L03.01-)"
    plain: str = ""  # the path without nonessential modifiers (a held-out term's query)
    natural: str = ""  # the path in natural word order: "anterior ST elevation myocardium infarct"
    # how many comma parts of ``text`` each level of the path says: (3, 1) for "Crush, crushed,
    # crushing, ankle" (one title spelled three ways, then a subterm); () where not a path
    levels: tuple = ()
