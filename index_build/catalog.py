"""The one record type every catalogue reader produces, and the errors they raise."""
from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    """One code of a catalogue.

    ``kind`` tells what the code is in the catalogue's hierarchy (``chapter``, ``block``,
    ``category``, ``code``). Chapters and blocks give the hierarchy its path but are not
    suggested: a coder never assigns them.
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
