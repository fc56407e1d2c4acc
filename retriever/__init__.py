"""medcode at query time: load an index, search it."""
from .errors import IndexProblem, MedcodeError, ModelProblem, QueryError
from .search import Candidate, Result, Retriever

try:
    from importlib.metadata import version as _version
    __version__ = _version("medcode")
except Exception:  # running from a source tree that was never installed
    __version__ = "0.1.0"

__all__ = ["Retriever", "Candidate", "Result", "MedcodeError", "QueryError", "IndexProblem",
           "ModelProblem", "__version__"]
