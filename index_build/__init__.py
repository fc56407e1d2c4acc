"""medcode at build time: catalogue readers and the index builder."""
from .catalog import CatalogError, Entry, Term

__all__ = ["Entry", "Term", "CatalogError"]
