"""``medcode serve``: the HTTP API (suggest, FHIR terminology operations, health) and the search page.

Query text is never logged: the access log is off (a FHIR ``$expand`` carries the phrase in its
URL), and errors name the problem, not the phrase.
"""
from __future__ import annotations

import asyncio
import contextlib
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.middleware.base import BaseHTTPMiddleware

from . import __version__, fhir
from .errors import MedcodeError, QueryError
from .search import MAX_QUERY_CHARS
from .service import Batcher, NotFound, Service, system_url


class SuggestRequest(BaseModel):
    text: str = Field(..., description="a clinical phrase", examples=["heart attack, anterior wall"])
    k: int = Field(10, description="how many candidates")
    filters: dict[str, Any] = Field(default_factory=dict,
                                    description="billable_only, prefix, chapter, system, version")
    details: bool = Field(False, description="add each candidate's hierarchy path and excludes notes")
    levels: str = Field("assignable", description="assignable (default: codes a coder can assign; a "
                                                  "category brings its best codes) or all (every level)")


class BatchRequest(BaseModel):
    texts: list[str] = Field(..., description="clinical phrases")
    k: int = 10
    filters: dict[str, Any] = Field(default_factory=dict)
    details: bool = False
    levels: str = "assignable"


class CodeRequest(BaseModel):
    text: str = Field(..., description="a clinical note (up to 100,000 characters)",
                      examples=["Chest pain since this morning. No fever. Mother has diabetes."])
    language: str = Field("en", description="the note's language: en, es, de or fr")
    threshold: float | None = Field(None, description="score a code needs to be selected (default: the index's)")
    system: str | None = Field(None, description="code against the index that holds this catalogue")
    rerank: bool | None = Field(None, description="true: rerank (a mention's codes, where its first two are "
                                                  "close); false: never; default: the index's")


class Limits:
    """What one request may ask for; defaults suit a coding screen and an agent's batch."""

    def __init__(self, max_body: int = 256 * 1024, max_k: int = 100, max_batch: int = 256,
                 timeout_s: float = 30.0, max_chars: int = MAX_QUERY_CHARS, rerank_budget_s: float | None = 0.15):
        self.max_body, self.max_k, self.max_batch = max_body, max_k, max_batch
        self.timeout_s, self.max_chars = timeout_s, max_chars
        # from a request's arrival: reranking that would end later is left out under load
        self.rerank_budget_s = rerank_budget_s


def create_app(service: Service, limits: Limits | None = None):
    limits = limits or Limits()
    batcher = Batcher(service, rerank_budget_s=limits.rerank_budget_s)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        batcher.close(timeout=limits.timeout_s)  # let a running search finish before the process ends

    app = FastAPI(title="medcode", version=__version__, lifespan=lifespan,
                  description="Ranked medical code suggestions for clinical phrases, offline.")
    app.state.batcher = batcher
    fhir_json = "application/fhir+json"

    class BodyLimit(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next):
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limits.max_body:
                return _error(request, 413, f"request body is {declared} bytes; the limit is {limits.max_body}")
            if request.method == "POST" and not declared:
                body = await request.body()  # chunked: count what came
                if len(body) > limits.max_body:
                    return _error(request, 413, f"request body is over the limit of {limits.max_body} bytes")
            return await call_next(request)

    app.add_middleware(BodyLimit)

    def _is_fhir(request: Request) -> bool:
        return request.url.path.startswith("/fhir")

    def _error(request: Request, status: int, message: str, fhir_code: str = "invalid"):
        if _is_fhir(request):
            return JSONResponse(fhir.operation_outcome(message, fhir_code), status_code=status, media_type=fhir_json)
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "query"))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid request")
        return _error(request, 422, message)

    @app.exception_handler(NotFound)
    async def _missing(request: Request, exc: NotFound):
        return _error(request, 404, str(exc), "not-found")

    @app.exception_handler(MedcodeError)
    async def _bad(request: Request, exc: MedcodeError):
        return _error(request, 400, str(exc))

    @app.exception_handler(asyncio.TimeoutError)
    async def _slow(request: Request, exc: asyncio.TimeoutError):
        return _error(request, 503, f"the search took longer than {limits.timeout_s:g} s; try again",
                      "too-costly")

    async def run(fn, *args):
        """Blocking work in a thread, bounded in time: the event loop keeps serving."""
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), limits.timeout_s)

    async def suggest_many(texts: list[str], k: int, filters: dict, details: bool = False):
        future = batcher.submit([check_text(t) for t in texts], k, filters, details)
        return await asyncio.wait_for(asyncio.wrap_future(future), limits.timeout_s)

    def check_k(k: int) -> int:
        if not 1 <= k <= limits.max_k:
            raise QueryError(f"k must be from 1 to {limits.max_k}, not {k}")
        return k

    def check_text(text: str) -> str:
        if len(text) > limits.max_chars:
            raise QueryError(f"text is {len(text)} characters; the limit is {limits.max_chars} "
                             "(split a long note into phrases)")
        return text

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(_asset("index.html"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        types = {"app.js": "text/javascript", "style.css": "text/css"}
        if name not in types:
            return JSONResponse({"error": f"no such file: {name}"}, status_code=404)
        return Response(_asset(name), media_type=types[name])

    @app.get("/health")
    async def health():
        return service.health()

    @app.post("/suggest")
    async def suggest(req: SuggestRequest, response: Response):
        check_k(req.k)
        results, note = await suggest_many([req.text], req.k, {"levels": req.levels, **req.filters}, req.details)
        response.headers["X-Medcode-Rerank"] = note
        return results[0]

    @app.post("/suggest/batch")
    async def suggest_batch(req: BatchRequest, response: Response):
        check_k(req.k)
        if not req.texts:
            raise QueryError("texts is empty: give at least one phrase")
        if len(req.texts) > limits.max_batch:
            raise QueryError(f"{len(req.texts)} texts; the limit is {limits.max_batch} per request")
        results, note = await suggest_many(req.texts, req.k, {"levels": req.levels, **req.filters}, req.details)
        response.headers["X-Medcode-Rerank"] = note
        return {"results": results}

    @app.post("/code")
    async def code(req: CodeRequest):
        """A note in, its ranked code set out: each code with its mentions (offsets, text,
        assertion), ``selected`` when it passes the threshold."""
        return await run(service.code_note, req.text, req.language, req.threshold, req.system, req.rerank)

    @app.get("/lookup")
    async def lookup(code: str, system: str | None = None, version: str | None = None):
        return await run(service.lookup, code, system, version)

    @app.get("/fhir/metadata")
    async def metadata(request: Request):
        return JSONResponse(fhir.capability_statement(str(request.base_url) + "fhir", service.systems()),
                            media_type=fhir_json)

    @app.get("/fhir/ValueSet/$expand")
    async def expand(filter: str, url: str | None = None, count: int = 10, includeNotSelectable: bool = False):  # noqa: N803 - FHIR's spelling
        systems = {s["system"] for s in service.systems()}
        system = service.resolve_system(url) if url else None
        if system is None and len(systems) > 1:
            raise QueryError(f"several catalogues are served ({', '.join(sorted(systems))}): give url=")
        check_k(count)
        filters = {"system": system} if system else {}
        # codes a coder cannot select (categories) only when asked; then marked abstract
        filters["levels"] = "all" if includeNotSelectable else "assignable"
        results, _ = await suggest_many([filter], count, filters)
        return JSONResponse(fhir.expansion(url, filter, count, results[0]["candidates"], system_url),
                            media_type=fhir_json)

    @app.get("/fhir/CodeSystem/$lookup")
    async def fhir_lookup(code: str, system: str | None = None, version: str | None = None):
        info = await run(service.lookup, code, system, version)
        return JSONResponse(fhir.lookup(info), media_type=fhir_json)

    return app


def _asset(name: str) -> str:
    return resources.files("retriever").joinpath("web", name).read_text(encoding="utf-8")


def serve(service: Service, host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None) -> None:
    import uvicorn

    uvicorn.run(create_app(service, limits), host=host, port=port, access_log=False, log_level="warning")
