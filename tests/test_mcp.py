"""The MCP server driven by the official SDK's own client over stdio: list tools, call each."""
import asyncio
import json
import sys

import pytest

from .conftest import ROOT

TOOLS = {"suggest_codes", "lookup_code", "explain_code_choice", "code_note"}


def _payload(result) -> dict:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content.get("result", result.structured_content)
    return json.loads(result.content[0].text)


async def _session(index, calls):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "retriever.cli", "mcp", "--index", str(index)],
                                   cwd=str(ROOT), env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    async with Client(params, read_timeout_seconds=120) as client:
        tools = await client.list_tools()
        answers = [await client.call_tool(name, args) for name, args in calls]
    return tools, answers


@pytest.fixture(scope="module")
def session(example_index):
    calls = [("suggest_codes", {"text": "broken hip", "k": 3}),
             ("suggest_codes", {"text": "heart attack", "k": 5, "billable_only": True}),
             ("lookup_code", {"code": "CARD.MI"}),
             ("explain_code_choice", {"text": "heart attack of the front wall", "code": "CARD.MI.ANT"}),
             ("lookup_code", {"code": "NOPE"}),
             ("suggest_codes", {"text": "", "k": 3}),
             ("suggest_codes", {"text": "asthma", "k": 500}),
             ("code_note", {"text": "Broken hip after a fall. No pneumonia."}),
             ("code_note", {"text": "   "})]
    return asyncio.run(_session(example_index, calls))


def test_lists_the_four_tools_with_schemas(session):
    tools, _ = session
    by_name = {t.name: t for t in tools.tools}
    assert set(by_name) == TOOLS
    assert set(by_name["suggest_codes"].input_schema["properties"]) == {"text", "k", "billable_only", "levels"}
    assert by_name["suggest_codes"].input_schema["required"] == ["text"]
    assert all(t.description for t in tools.tools)


def test_suggest_codes(session):
    _, answers = session
    first = _payload(answers[0])
    assert first["query"] == "broken hip" and first["candidates"][0]["code"] == "FX.HIP"
    assert {"title", "score", "evidence", "is_leaf"} <= set(first["candidates"][0])
    billable = _payload(answers[1])
    assert billable["candidates"] and all(c["is_leaf"] for c in billable["candidates"])


def test_lookup_code(session):
    _, answers = session
    entry = _payload(answers[2])
    assert entry["title"] == "Myocardial infarction" and entry["parent"]["code"] == "CARD"
    assert {c["code"] for c in entry["children"]} == {"CARD.MI.ANT", "CARD.MI.INF"}


def test_explain_code_choice(session):
    _, answers = session
    why = _payload(answers[3])
    assert why["code"] == "CARD.MI.ANT" and isinstance(why["rank"], int)
    assert {s["string"] for s in why["strings"]} >= {"Anterior wall myocardial infarction", "anterior STEMI"}
    assert [p["code"] for p in why["path"]] == ["CARD", "CARD.MI", "CARD.MI.ANT"]
    assert why["summary"].startswith(f"CARD.MI.ANT ranks {why['rank']}")


def test_errors_come_back_as_tool_errors(session):
    _, answers = session
    missing, empty, too_many = answers[4:7]
    assert missing.is_error and "not in the catalogue" in missing.content[0].text
    assert empty.is_error and "empty query" in empty.content[0].text
    assert too_many.is_error and "k must be from 1 to 50" in too_many.content[0].text


def test_code_note(session):
    _, answers = session
    coded = _payload(answers[7])
    by_code = {c["code"]: c for c in coded["codes"]}
    assert by_code["FX.HIP"]["selected"] and by_code["FX.HIP"]["mentions"][0]["text"].lower().startswith("broken hip")
    assert not by_code["RESP.PNA"]["selected"]
    assert {m["assertion"] for m in by_code["RESP.PNA"]["mentions"]} == {"negated"}
    assert answers[8].is_error and "empty note" in answers[8].content[0].text
