"""Required elements (cardinality 1..) of the FHIR R4 resources medcode returns, checked by hand
from the spec's resource definitions; enough to catch a malformed answer."""

REQUIRED = {
    "OperationOutcome": ["issue"],
    "ValueSet": ["status"],
    "Parameters": [],
    "CapabilityStatement": ["status", "date", "kind", "fhirVersion", "format"],
}
ISSUE_TYPES = {"invalid", "structure", "required", "value", "not-found", "too-costly", "exception", "processing",
               "not-supported", "security", "throttled", "timeout", "informational"}


def check(resource: dict) -> None:
    kind = resource.get("resourceType")
    assert kind in REQUIRED, f"unexpected resourceType {kind!r}"
    for field in REQUIRED[kind]:
        assert resource.get(field) not in (None, [], ""), f"{kind}.{field} is required"
    if kind == "OperationOutcome":
        for issue in resource["issue"]:
            assert issue["severity"] in ("fatal", "error", "warning", "information")
            assert issue["code"] in ISSUE_TYPES
    if kind == "ValueSet" and "expansion" in resource:
        exp = resource["expansion"]
        assert exp.get("timestamp"), "ValueSet.expansion.timestamp is required"
        for c in exp.get("contains", []):
            assert c.get("system") and c.get("code"), "expansion.contains needs system and code"
            for ext in c.get("extension", []):
                assert ext.get("url") and any(k.startswith("value") for k in ext)
    if kind == "Parameters":
        for p in resource.get("parameter", []):
            assert p.get("name"), "Parameters.parameter.name is required"
            values = [k for k in p if k.startswith("value")]
            assert len(values) + ("part" in p) == 1, f"parameter {p['name']} needs exactly one value or parts"
            for part in p.get("part", []):
                assert part.get("name") and sum(k.startswith("value") for k in part) == 1
    if kind == "CapabilityStatement":
        assert resource["kind"] in ("instance", "capability", "requirements")
        for rest in resource.get("rest", []):
            assert rest["mode"] in ("server", "client")
            for op in rest.get("operation", []) + [o for r in rest.get("resource", []) for o in r.get("operation", [])]:
                assert op.get("name") and op.get("definition")
