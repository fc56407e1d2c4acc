"""``medcode mcp``: Model Context Protocol tools over stdio, for LLM coding assistants.

Nothing but protocol goes to stdout; the index is loaded before the first message is read.
"""
from __future__ import annotations

from typing import Any

from .errors import MedcodeError
from .service import Service

INSTRUCTIONS = (
    "medcode suggests medical codes (ICD-10-CM and other loaded catalogues) for clinical phrases. "
    "Call suggest_codes with one short phrase at a time (a diagnosis or procedure), or code_note with a "
    "whole note (it finds the mentions, reads negation and family history, and ranks the codes); "
    "check a candidate with lookup_code (hierarchy, inclusion terms, excludes) and explain_code_choice "
    "before you assign it. Candidates are assignable codes (is_leaf true) unless levels='all' is asked; "
    "a candidate's 'missing' lists what the phrase did not say (laterality, encounter): ask or check."
)


def create_server(service: Service, max_k: int = 50):
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from . import __version__

    server = MCPServer("medcode", instructions=INSTRUCTIONS, version=__version__)

    def guarded(fn, *args):
        try:
            return fn(*args)
        except MedcodeError as exc:  # a clear message for the model, not a traceback
            raise ToolError(str(exc)) from exc

    @server.tool()
    def suggest_codes(text: str, k: int = 10, billable_only: bool = False, levels: str = "assignable") -> dict[str, Any]:
        """Ranked candidate codes for one clinical phrase, each with title, score, the catalogue
        string that matched (evidence), its category, whether it is billable (is_leaf) and what
        the phrase did not say that the code does (missing). levels: "assignable" (default) or
        "all" (categories too)."""
        if not 1 <= k <= max_k:
            raise ToolError(f"k must be from 1 to {max_k}, not {k}")
        return guarded(service.suggest, text, k, {"levels": levels, **({"billable_only": True} if billable_only else {})})

    @server.tool()
    def code_note(text: str, language: str = "en", threshold: float | None = None) -> dict[str, Any]:
        """Codes for a whole clinical note, ranked: each with title, score, selected (passes the
        index's threshold) and its mentions in the note (character offsets, text, assertion:
        present, negated, possible, family, historical, hypothetical). Negated and hypothetical
        findings are not selected; a family member's finding is looked up as family history.
        language: en, es, de or fr."""
        return guarded(service.code_note, text, language, threshold)

    @server.tool()
    def lookup_code(code: str) -> dict[str, Any]:
        """A code's catalogue entry: title, billable flag, parent, children, inclusion terms,
        excludes notes (its own and its ancestors') and the hierarchy path."""
        return guarded(service.lookup, code)

    @server.tool()
    def explain_code_choice(text: str, code: str) -> dict[str, Any]:
        """Why a code ranks where it does for a phrase: its rank, the codes above it, which of its
        catalogue strings matched and how (dense, BM25, 3-gram scores), its hierarchy and excludes."""
        return guarded(service.explain, text, code)

    return server


def run_stdio(service: Service) -> None:
    create_server(service).run("stdio")
