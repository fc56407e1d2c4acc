"""medcode at build time: catalogue readers and the index builder."""
from .catalog import CatalogError, Entry

__all__ = ["Entry", "CatalogError"]
