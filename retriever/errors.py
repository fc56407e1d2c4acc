"""Errors a user can act on: each prints as one line naming the problem."""


class MedcodeError(Exception):
    """Base of every error medcode reports to a user instead of a traceback."""


class QueryError(MedcodeError, ValueError):
    """The query text or a search option is unusable."""


class IndexProblem(MedcodeError):
    """The index directory is missing, incompatible or corrupt."""


class ModelProblem(MedcodeError):
    """A sentence-transformers model cannot be loaded or does not fit the index."""
