"""The HTTP API: each endpoint, each kind of bad input, FHIR shapes, no query text in the logs."""
import logging

import pytest

from retriever.server import Limits, create_app
from retriever.service import Service

from . import fhir_shapes

PHRASE = "heart attack of the front wall"


@pytest.fixture(scope="module")
def service(retriever):
    return Service([retriever])


@pytest.fixture(scope="module")
def client(service):
    from fastapi.testclient import TestClient

    return TestClient(create_app(service, Limits(max_body=4096, max_k=50, max_batch=8)))


def test_health_names_the_index(client, example_index):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["indexes"][0]["path"] == str(example_index)
    assert set(body["indexes"][0]["systems"]) == {"EXAMPLE-REGISTRY", "example"}


def test_suggest_answers_what_the_cli_answers(client, retriever):
    res = client.post("/suggest", json={"text": PHRASE, "k": 5})
    assert res.status_code == 200
    assert res.json() == retriever.search(PHRASE, k=5).as_dict()
    assert res.headers["X-Medcode-Rerank"].startswith("skipped")


def test_suggest_with_filters_and_details(client):
    body = client.post("/suggest", json={"text": "broken hip", "k": 3, "details": True,
                                         "filters": {"system": "example", "billable_only": True}}).json()
    assert body["candidates"] and all(c["system"] == "example" and c["is_leaf"] for c in body["candidates"])
    first = body["candidates"][0]
    assert first["code"] == "FX.HIP"
    assert [p["code"] for p in first["path"]] == ["FX", "FX.FEM", "FX.HIP"]
    assert "excludes" in first


def test_batch_keeps_the_order(client):
    texts = ["asthma", "broken wrist", "AFib"]
    body = client.post("/suggest/batch", json={"texts": texts, "k": 2}).json()
    assert [r["query"] for r in body["results"]] == texts
    assert [r["candidates"][0]["code"] for r in body["results"]][1:] == ["FX.RAD", "CARD.AF"]


@pytest.mark.parametrize("path, body, status, words", [
    ("/suggest", {"text": "", "k": 3}, 400, "empty query"),
    ("/suggest", {"text": "asthma", "k": 0}, 400, "k must be from 1 to 50"),
    ("/suggest", {"text": "asthma", "k": 51}, 400, "k must be from 1 to 50"),
    ("/suggest", {"text": "x" * 2001}, 400, "limit is 2000"),
    ("/suggest", {"k": 3}, 422, "text: Field required"),
    ("/suggest", {"text": ["a"]}, 422, "text"),
    ("/suggest", {"text": "asthma", "filters": {"colour": "red"}}, 400, "unknown filter 'colour'"),
    ("/suggest", {"text": "asthma", "filters": {"system": "SNOMED"}}, 404, "no catalogue 'SNOMED'"),
    ("/suggest/batch", {"texts": []}, 400, "texts is empty"),
    ("/suggest/batch", {"texts": ["a"] * 9}, 400, "limit is 8"),
])
def test_bad_input_gets_a_clear_4xx(client, path, body, status, words):
    res = client.post(path, json=body)
    assert res.status_code == status
    assert words in res.json()["error"]


def test_oversized_and_malformed_bodies(client):
    res = client.post("/suggest", content=b'{"text": "' + b"a" * 5000 + b'"}',
                      headers={"Content-Type": "application/json"})
    assert res.status_code == 413 and "limit is 4096" in res.json()["error"]
    res = client.post("/suggest", content=b"{not json", headers={"Content-Type": "application/json"})
    assert res.status_code == 422 and res.json()["error"]


def test_lookup(client):
    body = client.get("/lookup", params={"code": "CARD.AF"}).json()
    assert body["title"] == "Atrial fibrillation" and body["parent"]["code"] == "CARD"
    assert body["excludes"][0]["note"].startswith("atrial flutter")
    assert client.get("/lookup", params={"code": "NOPE"}).status_code == 404


def test_fhir_metadata_lists_the_operations(client):
    res = client.get("/fhir/metadata")
    assert res.headers["content-type"].startswith("application/fhir+json")
    cap = res.json()
    fhir_shapes.check(cap)
    ops = {o["name"] for r in cap["rest"][0]["resource"] for o in r["operation"]}
    assert ops == {"lookup", "expand"}


def test_fhir_expand(client, retriever):
    res = client.get("/fhir/ValueSet/$expand", params={"url": "urn:medcode:system:example", "filter": "broken hip",
                                                       "count": 3})
    assert res.status_code == 200
    vs = res.json()
    fhir_shapes.check(vs)
    contains = vs["expansion"]["contains"]
    # the example's fractures hold two selectable codes; the category FX.FEM is left out unless asked
    assert len(contains) == vs["expansion"]["total"] == 2 and not any(c.get("abstract") for c in contains)
    assert contains[0]["code"] == "FX.HIP" and contains[0]["display"] == "Fracture of neck of femur"
    every = client.get("/fhir/ValueSet/$expand", params={"url": "example", "filter": "broken hip", "count": 3,
                                                         "includeNotSelectable": "true"}).json()["expansion"]["contains"]
    assert {c["code"]: c.get("abstract", False) for c in every} == {"FX.HIP": False, "FX.FEM": True, "FX.RAD": False}
    assert contains[0]["system"] == "urn:medcode:system:example"
    ext = {e["url"].rsplit("/", 1)[1]: e for e in contains[0]["extension"]}
    assert ext["evidence"]["valueString"] == "broken hip" and "valueDecimal" in ext["score"]
    # by system name, and the implicit value set URL
    same = client.get("/fhir/ValueSet/$expand", params={"url": "example", "filter": "broken hip", "count": 3}).json()
    assert [c["code"] for c in same["expansion"]["contains"]] == [c["code"] for c in contains]


@pytest.mark.parametrize("params, status, code, words", [
    ({"filter": "asthma"}, 400, "invalid", "give url="),  # two systems served: url is needed
    ({"url": "http://snomed.info/sct", "filter": "asthma"}, 404, "not-found", "no catalogue"),
    ({"url": "example"}, 422, "invalid", "filter"),
    ({"url": "example", "filter": "asthma", "count": 0}, 400, "invalid", "k must be"),
    ({"url": "example", "filter": "asthma", "count": "many"}, 422, "invalid", "count"),
])
def test_fhir_expand_errors_are_operation_outcomes(client, params, status, code, words):
    res = client.get("/fhir/ValueSet/$expand", params=params)
    assert res.status_code == status
    oo = res.json()
    fhir_shapes.check(oo)
    assert oo["resourceType"] == "OperationOutcome" and oo["issue"][0]["code"] == code
    assert words in oo["issue"][0]["diagnostics"]


def test_fhir_expand_needs_no_url_for_one_system(example_index, tmp_path, cache_dir):
    from fastapi.testclient import TestClient
    from index_build.build import build
    from retriever import Retriever

    from .conftest import EXAMPLE

    build([str(EXAMPLE)], tmp_path / "one", cache=cache_dir, progress=False)
    single = TestClient(create_app(Service([Retriever.load(tmp_path / "one")])))
    vs = single.get("/fhir/ValueSet/$expand", params={"filter": "AFib", "count": 2}).json()
    assert vs["expansion"]["contains"][0]["code"] == "CARD.AF"


def test_fhir_lookup(client):
    res = client.get("/fhir/CodeSystem/$lookup", params={"system": "EXAMPLE-REGISTRY", "code": "CARD.MI"})
    params = res.json()
    fhir_shapes.check(params)
    by_name = {}
    for p in params["parameter"]:
        by_name.setdefault(p["name"], []).append(p)
    assert by_name["display"][0]["valueString"] == "Myocardial infarction"
    props = {(p["part"][0]["valueCode"], next(v for k, v in p["part"][1].items() if k.startswith("value")))
             for p in by_name["property"]}
    assert ("parent", "CARD") in props and ("child", "CARD.MI.ANT") in props and ("child", "CARD.MI.INF") in props
    assert ("inclusion", "heart attack") in props
    assert {d["part"][1]["valueString"] for d in by_name["designation"]} == {"heart attack", "MI", "cardiac infarction"}
    missing = client.get("/fhir/CodeSystem/$lookup", params={"system": "EXAMPLE-REGISTRY", "code": "ZZZ"})
    assert missing.status_code == 404 and missing.json()["issue"][0]["code"] == "not-found"


def test_query_text_is_never_logged(client, caplog):
    with caplog.at_level(logging.DEBUG):
        client.post("/suggest", json={"text": PHRASE})
        client.get("/fhir/ValueSet/$expand", params={"url": "example", "filter": PHRASE})
        client.post("/suggest", json={"text": PHRASE, "k": 0})
    assert PHRASE not in caplog.text


def test_search_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="q"' in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/secrets.txt").status_code == 404
    assert client.get("/docs").status_code == 200 and client.get("/openapi.json").json()["paths"]["/suggest"]


def test_slow_search_answers_503(service):
    import time

    from fastapi.testclient import TestClient

    class Slow(Service):
        def suggest_batch(self, *a, **kw):
            time.sleep(1.0)
            return super().suggest_batch(*a, **kw)

    app = create_app(Slow(service.retrievers), Limits(timeout_s=0.2))
    res = TestClient(app).post("/suggest", json={"text": "asthma"})
    assert res.status_code == 503 and "longer than 0.2 s" in res.json()["error"]
    app.state.batcher.close(timeout=30)  # the search goes on after the 503; it finishes, then the worker stops
    assert not app.state.batcher.worker.is_alive()


def test_concurrent_requests_share_one_search(service, retriever):
    from retriever.service import Batcher

    calls = []

    class Counting(Service):
        def suggest_batch(self, texts, *a, **kw):
            calls.append(len(texts))
            return super().suggest_batch(texts, *a, **kw)

    counting = Counting(service.retrievers)
    batcher = Batcher(counting)
    texts = ["asthma", "broken wrist", "AFib", "heart attack", "broken hip"]
    with counting.lock:  # the worker blocks on its first search while the others queue up
        futures = [batcher.submit([t], 3, {}, False) for t in texts]
        other = batcher.submit(["asthma"], 2, {}, False)  # a different k is not merged
    answers = [f.result(timeout=60) for f in futures]
    assert [a[0][0]["query"] for a in answers] == texts
    assert [a[0][0] for a in answers] == [retriever.search(t, k=3).as_dict() for t in texts]
    assert len(other.result(timeout=60)[0][0]["candidates"]) == 2
    assert len(calls) <= 3 and sum(calls) == 6
    with pytest.raises(Exception, match="empty query"):
        batcher.submit([""], 3, {}, False)
    batcher.close(timeout=30)
    assert not batcher.worker.is_alive()


def test_over_the_latency_budget_a_search_answers_unreranked_and_says_so(example_index, tiny_cross_encoder):
    from fastapi.testclient import TestClient

    from retriever import Retriever

    ranked = Service([Retriever.load(example_index, reranker=tiny_cross_encoder)])
    rushed = TestClient(create_app(ranked, Limits(rerank_budget_s=0.0)))
    res = rushed.post("/suggest", json={"text": PHRASE, "k": 5})
    assert res.status_code == 200 and res.headers["x-medcode-rerank"] == "skipped: over the latency budget"
    assert res.json()["rerank"] == "skipped: over the latency budget"
    assert all(c["scores"]["rerank"] is None for c in res.json()["candidates"])
    calm = TestClient(create_app(ranked, Limits(rerank_budget_s=None)))
    res = calm.post("/suggest/batch", json={"texts": [PHRASE, "asthma"], "k": 5})
    assert res.headers["x-medcode-rerank"] == "applied"
    assert [r["rerank"] for r in res.json()["results"]] == ["applied", "applied"]
