"""FHIR R4 terminology resources (JSON) built from medcode's answers: ValueSet $expand,
CodeSystem $lookup, the CapabilityStatement, and OperationOutcome for errors."""
from __future__ import annotations

import time
import uuid

from . import __version__

FHIR_VERSION = "4.0.1"
EXTENSION = "https://medcode.invalid/fhir/StructureDefinition/"  # our own extensions' base
SYNONYM = {"system": "http://snomed.info/sct", "code": "900000000000013009", "display": "Synonym"}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def operation_outcome(message: str, code: str = "invalid", severity: str = "error") -> dict:
    """``code`` from the FHIR issue-type value set: invalid, not-found, too-costly, exception, ..."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": message}]}


def expansion(url: str | None, phrase: str, count: int, candidates: list[dict], url_of) -> dict:
    """A ValueSet whose expansion lists the ranked candidates; score and evidence ride in extensions."""
    contains = [{"system": url_of(c["system"]), "version": c["version"], "code": c["code"], "display": c["title"],
                 "extension": [{"url": EXTENSION + "score", "valueDecimal": c["score"]},
                               {"url": EXTENSION + "evidence", "valueString": c["evidence"]},
                               {"url": EXTENSION + "billable", "valueBoolean": c["is_leaf"]}],
                 **({} if c["is_leaf"] else {"abstract": True})}  # FHIR: shown for navigation, not selectable
                for c in candidates]
    vs = {"resourceType": "ValueSet", "status": "active",
          "expansion": {"identifier": f"urn:uuid:{uuid.uuid4()}", "timestamp": _now(), "total": len(contains),
                        "offset": 0,
                        "parameter": [{"name": "filter", "valueString": phrase}, {"name": "count", "valueInteger": count}],
                        "contains": contains}}
    if url:
        vs["url"] = url
    return vs


def lookup(info: dict) -> dict:
    """A Parameters resource as $lookup returns it: name, version, display, designations, properties."""
    params = [{"name": "name", "valueString": info["system"]},
              {"name": "version", "valueString": info["version"]},
              {"name": "display", "valueString": info["title"]}]
    params += [{"name": "designation", "part": [{"name": "use", "valueCoding": SYNONYM},
                                                 {"name": "value", "valueString": s}]} for s in info["synonyms"]]

    def prop(code: str, value_key: str, value) -> dict:
        return {"name": "property", "part": [{"name": "code", "valueCode": code}, {"name": "value", value_key: value}]}

    props = []
    if info["parent"]:
        props.append(prop("parent", "valueCode", info["parent"]["code"]))
    props += [prop("child", "valueCode", c["code"]) for c in info["children"]]
    props.append(prop("notSelectable", "valueBoolean", not info["is_leaf"]))
    props.append(prop("kind", "valueString", info["kind"]))
    props += [prop("inclusion", "valueString", s) for s in info["synonyms"]]
    props += [prop("exclusion", "valueString", x["note"]) for x in info["excludes"]]
    return {"resourceType": "Parameters", "parameter": params + props}


def capability_statement(base: str, systems: list[dict]) -> dict:
    return {"resourceType": "CapabilityStatement", "status": "active", "date": _now(), "kind": "instance",
            "publisher": "medcode", "fhirVersion": FHIR_VERSION, "format": ["json"],
            "software": {"name": "medcode", "version": __version__},
            "implementation": {"description": "medcode code suggestion: "
                               + ", ".join(f"{s['system']} {s['version']}" for s in systems), "url": base},
            "rest": [{"mode": "server",
                      "resource": [
                          {"type": "CodeSystem", "interaction": [],
                           "operation": [{"name": "lookup",
                                          "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"}]},
                          {"type": "ValueSet", "interaction": [],
                           "operation": [{"name": "expand",
                                          "definition": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"}]}],
                      "operation": [{"name": "lookup",
                                     "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"},
                                    {"name": "expand",
                                     "definition": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"}]}]}
