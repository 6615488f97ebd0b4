"""Each service's OpenAPI document, as served: valid OpenAPI 3, complete, and honest about auth."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

SERVICES = ["registry", "events", "notifications"]
# Not part of the API: probes, metrics, the document itself, static files and the answer pages.
NOT_API = ("/static/", "/livez", "/readyz", "/metrics", "/openapi.json", "/r/", "/console/")  # console: HTML pages
METHODS = {"get", "put", "post", "delete", "patch"}


def openapi_path(rule: str) -> str:
    """/fairs/<fair_id>/publish (Flask) -> /fairs/{fair_id}/publish (OpenAPI)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@pytest.fixture(scope="module")
def specs(platform):
    out = {}
    for service in SERVICES:
        r = platform.api.http.get(platform.api.urls[service] + "/openapi.json", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json"), r.text
        out[service] = r.json()
    return out


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


@pytest.mark.parametrize("service", SERVICES)
def test_document_is_valid_openapi_3(specs, service):
    spec = specs[service]
    assert spec["openapi"].startswith("3.")
    validate(spec)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_and_method_is_documented(platform, specs, service):
    paths = specs[service]["paths"]
    rules = [r for r in platform.apps[service].url_map.iter_rules() if not r.rule.startswith(NOT_API)]
    assert rules
    for rule in rules:
        path = openapi_path(rule.rule)
        assert path in paths, f"{rule.rule} is not in {service}'s document"
        for method in {m.lower() for m in rule.methods} & METHODS:
            assert method in paths[path], f"{method.upper()} {rule.rule} is not in {service}'s document"
    # and nothing is documented that the app does not serve
    served = {openapi_path(r.rule) for r in platform.apps[service].url_map.iter_rules()}
    assert set(paths) <= served


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_says_what_it_does(specs, service):
    for path, method, op in operations(specs[service]):
        assert op.get("summary") or op.get("description"), f"{method.upper()} {path} has no summary"


@pytest.mark.parametrize("service", SERVICES)
def test_bearer_scheme_is_declared_and_required_by_default(specs, service):
    spec = specs[service]
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert {"bearer": []} in spec["security"]


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_signed_link_pages_go_without_a_bearer_token(specs, service):
    # Calendar apps subscribe by URL and send no header: the public feed of announced fairs is open,
    # and a producer's calendar takes a bearer token or its signed link.
    open_feeds = {"/calendars/fairs.ics": [], "/calendars/producers/{producer_id}.ics": [{"bearer": []}, {}]}
    for path, method, op in operations(specs[service]):
        if path.startswith("/r/"):
            assert op.get("security") == [], f"{method.upper()} {path} is reached by its signed link alone"
        elif service == "events" and path in open_feeds:
            assert op.get("security") == open_feeds[path], f"{method.upper()} {path}"
        else:
            assert op.get("security", specs[service]["security"]) == [{"bearer": []}], f"{method.upper()} {path}"


def test_request_bodies_are_the_input_schemas(specs):
    """The write endpoints document their bodies, with the required fields the API enforces."""

    def required(service, path):
        body = specs[service]["paths"][path]["post"]["requestBody"]["content"]
        schema = next(iter(body.values()))["schema"]
        if "$ref" in schema:
            schema = specs[service]["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return set(schema.get("required", []))

    assert required("registry", "/producers") == {"code", "name", "kind", "province"}
    assert required("registry", "/products") == {"producer_id", "name", "group"}
    assert required("registry", "/certifications") == {
        "product_id",
        "score",
        "issued_by",
        "decision_number",
        "decision_date",
    }
    assert required("events", "/fairs") >= {"name", "starts_on", "ends_on", "capacity", "invitation_deadline"}
    assert required("events", "/invitations/{invitation_id}/answer") == {"answer"}
    assert required("notifications", "/r/{token}") == {"answer"}


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_lists_the_errors_it_answers_not_a_catch_all(specs, service):
    """shared/openapi.py: 401/403 with a bearer token, 404 for a record in the path, 400/413 with a
    body, 422 with parameters or a body, and a write's 404/409/422; each the one error body (the
    answer pages give their refusals as HTML)."""
    spec = specs[service]
    error = {"$ref": "#/components/schemas/Error"}
    for path, method, op in operations(spec):
        codes = set(op["responses"])
        assert "default" not in codes, f"{method.upper()} {path}"
        expected = set()
        if op.get("security", spec["security"]) != []:
            expected |= {"401", "403"}
        if "{" in path or method != "get":
            expected.add("404")
        if "requestBody" in op:
            expected |= {"400", "413", "422"}
        if method != "get":
            expected |= {"409", "422"}
        assert expected <= codes, f"{method.upper()} {path}: {sorted(expected - codes)} not documented"
        for code in codes - {"200", "201", "204", "302"}:
            response = op["responses"][code]
            if "$ref" in response:
                response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
            content = response["content"]
            assert "application/json" in content or path.startswith("/r/"), f"{method.upper()} {path} {code}"
            if "application/json" in content:
                assert content["application/json"]["schema"] == error, f"{method.upper()} {path} {code}"
