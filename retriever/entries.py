"""An index's catalogue entries, read as a search needs them.

What a search shows (code, title, system, version, billable, kind) loads with the index from two
compact files (``entry_text.json`` and ``entry_fields.npy``); the whole record (synonyms, parent,
excludes, usage) comes from ``entries.json`` on first use: a lookup, explain, training. Parsing
the whole records of ICD-10-CM (a million small objects) was a third of a load.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from . import index_files as files
from .errors import IndexProblem

FIELDS = ("system", "version", "kind")  # columns stored as small vocabularies, by number


def write(directory: Path, rows: list[list], dump) -> None:
    """The compact files for ``rows`` (entry rows in ``files.ENTRY_COLUMNS`` order)."""
    col = {c: i for i, c in enumerate(files.ENTRY_COLUMNS)}
    vocab = {f: sorted({r[col[f]] for r in rows}) for f in FIELDS}
    number = {f: {v: i for i, v in enumerate(vocab[f])} for f in FIELDS}
    fields = np.array([[number[f][r[col[f]]] for f in FIELDS] + [int(bool(r[col["is_leaf"]]))] for r in rows],
                      dtype=np.int32).reshape(len(rows), len(FIELDS) + 1)
    np.save(directory / files.ENTRY_FIELDS, fields, allow_pickle=False)
    dump(files.ENTRY_TEXT, {"code": [r[col["code"]] for r in rows], "title": [r[col["title"]] for r in rows],
                            **{f + "s": vocab[f] for f in FIELDS}})


class Entries:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        text = files.read_json(self.directory / files.ENTRY_TEXT)
        try:
            fields = np.load(self.directory / files.ENTRY_FIELDS, allow_pickle=False)
            self.code, self.title = list(text["code"]), list(text["title"])
            names = {f: text[f + "s"] for f in FIELDS}
            if fields.shape != (len(self.code), len(FIELDS) + 1) or len(self.title) != len(self.code):
                raise ValueError("entry files disagree in length")
            self.system, self.version, self.kind = ([names[f][i] for i in fields[:, j]] for j, f in enumerate(FIELDS))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise IndexProblem(f"corrupt entry files in {self.directory}: {exc}") from exc
        self.is_leaf = fields[:, len(FIELDS)].astype(bool)
        self.systems = sorted(names["system"])
        self._rows: list[list] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.code)

    @property
    def rows(self) -> list[list]:
        """Every whole record, parsed on first use."""
        if self._rows is None:
            with self._lock:
                if self._rows is None:
                    rows = files.read_json(self.directory / files.ENTRIES)
                    if not isinstance(rows, list) or len(rows) != len(self.code):
                        raise IndexProblem(f"index {self.directory} is inconsistent: {files.ENTRIES} "
                                           "does not match the entry files")
                    self._rows = rows
        return self._rows

    def __getitem__(self, i: int) -> list:
        return self.rows[i]

    def record(self, i: int) -> dict:
        return dict(zip(files.ENTRY_COLUMNS, self.rows[i]))
