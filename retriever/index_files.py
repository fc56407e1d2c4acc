"""The index directory: its files, its manifest, and the checks made before anything is loaded.

Only JSON, ``.npy`` (loaded with ``allow_pickle=False``) and FAISS files live here; nothing in an
index directory is ever unpickled or executed.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import IndexProblem

FORMAT = 4  # 3: models as ONNX in the index, file sizes in the manifest; 4: vectors stored as fp16
READS = (3, 4)  # a format-3 index (fp32 vectors) is read as it is
# files smaller than this are hashed on every load; larger ones are checked by size (and hashed
# by `medcode info --verify`)
QUICK_HASH_BELOW = 8 << 20
MANIFEST = "manifest.json"
ENTRIES = "entries.json"
STRINGS = "strings.json"
STRING_ENTRY = "string_entry.npy"
ENTRY_PARENT, ENTRY_ROOT = "entry_parent.npy", "entry_root.npy"
ENTRY_TEXT, ENTRY_FIELDS = "entry_text.json", "entry_fields.npy"
FAISS = "dense.faiss"
VOCAB = "bm25_vocab.json"
TFIDF_VOCAB = "tfidf_vocab.json"
# the strings that name a short phrase word for word (index_lookup.NamedTerms); an index built
# before them has none and searches without that lookup
NAMED_KEYS, NAMED_PTR, NAMED_IDS = "named_keys.json", "named_ptr.npy", "named_ids.npy"
ENTRY_COLUMNS = ("system", "version", "code", "title", "synonyms", "parent", "is_leaf", "excludes", "kind", "usage")


def default_dir() -> Path:
    return Path(os.environ.get("MEDCODE_INDEX") or Path.home() / ".cache" / "medcode" / "icd10cm").expanduser()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_json(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexProblem(f"corrupt index file {path}: {exc}") from exc


def read_manifest(directory: Path, verify: bool | str = True) -> dict:
    """The manifest, after checking that the format is ours and the listed files are intact.

    ``verify=True`` (every load) checks each file's size and the SHA-256 of the small ones
    (under ``QUICK_HASH_BELOW``): hashing the large arrays and models would cost more than the
    rest of a load, and a truncated one is caught by its size. ``verify="full"`` (``medcode
    info --verify``) hashes every file; ``False`` checks nothing.
    """
    directory = Path(directory).expanduser()
    path = directory / MANIFEST
    if not directory.is_dir():
        raise IndexProblem(f"no index at {directory} (build one with: medcode build --index {directory})")
    if not path.is_file():
        raise IndexProblem(f"{directory} is not a complete medcode index: {MANIFEST} is missing")
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("kind") != "medcode-index":
        raise IndexProblem(f"{path} is not a medcode index manifest")
    if manifest.get("format") not in READS:
        raise IndexProblem(f"index {directory} has format {manifest.get('format')}, this medcode reads "
                           f"format {' or '.join(map(str, READS))}; rebuild it with: medcode build --index {directory}")
    if verify:
        sizes = manifest.get("sizes", {})
        for name, expected in manifest.get("files", {}).items():
            f = directory / name
            if not f.is_file():
                raise IndexProblem(f"index {directory} is missing {name}; rebuild it")
            size = f.stat().st_size
            if name in sizes and size != sizes[name]:
                raise IndexProblem(f"index file {f} does not match its manifest ({size} bytes, not "
                                   f"{sizes[name]}: truncated or changed since the build); rebuild the index")
            if (verify == "full" or size < QUICK_HASH_BELOW or name not in sizes) and sha256(f) != expected:
                raise IndexProblem(f"index file {f} does not match its manifest hash (corrupt or "
                                   "changed since the build); rebuild the index")
    return manifest


def record_files(directory: Path, manifest: dict) -> None:
    """The manifest's hash and size of every file under ``directory`` (the manifest itself aside)."""
    listed = sorted(f for f in Path(directory).rglob("*") if f.is_file() and f.name != MANIFEST
                    and not f.name.startswith("."))
    manifest["files"] = {str(f.relative_to(directory)): sha256(f) for f in listed}
    manifest["sizes"] = {str(f.relative_to(directory)): f.stat().st_size for f in listed}


def replace_manifest(directory: Path, manifest: dict) -> None:
    """Write a changed manifest of an existing index in one rename: readers see the old one or
    the new one, never half of it."""
    tmp = Path(directory) / f".{MANIFEST}.{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, Path(directory) / MANIFEST)
