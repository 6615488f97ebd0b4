"""The error answers of every operation in the OpenAPI documents, as the services give them.

flask-smorest documents a catch-all ``default`` error, which says nothing a client or a contract
test can check. Instead each operation lists the errors it can answer, each with the one error
body (``{"code", "status", "message", "errors"}``, shared/web.py):

- 401 and 403 when it takes a bearer token (no or a bad token; a role not admitted, or a producer
  acting on another's record);
- 404 when its path names a record, or when it writes (its body may name one: a product's producer);
- 400 (malformed JSON) and 413 (over the body limit) when it reads a body;
- 422 when it reads parameters or a body (a field that does not validate, named in ``errors``), or
  when it writes (a rule the change breaks: a fair cannot go from closed to inviting);
- 409 when it writes (a state the change does not fit, a version conflict, a duplicate).

An operation that answers another status documents it itself (``@blp.alt_response``); the fuzz
test (tests/integration/test_fuzz.py) fails on any answer a document does not list.
"""

from __future__ import annotations

from http import HTTPStatus

from apispec import BasePlugin

METHODS = ("get", "post", "put", "patch", "delete")
WRITES = ("post", "put", "patch", "delete")


def errors_of(method: str, operation: dict, path_parameters: bool) -> list[int]:
    """The error statuses an operation can answer (see the module's docstring)."""
    codes = []
    if operation.get("security") != []:  # the document's default (a bearer token) or its own
        codes += [401, 403]
    writes = method in WRITES
    if path_parameters or writes:
        codes.append(404)
    if "requestBody" in operation:
        codes += [400, 413]
    if (
        writes
        or "requestBody" in operation
        or any(p.get("in") != "path" for p in operation.get("parameters", []) if isinstance(p, dict))
    ):
        codes.append(422)
    if writes:
        codes.append(409)
    return codes


class ErrorResponses(BasePlugin):
    """apispec plugin: adds each operation's error responses (components named as flask-smorest
    names them, e.g. ``UNAUTHORIZED``, whose schema is the error body)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        path_parameters = bool(rule.arguments) if rule is not None else "{" in (path or "")
        for method, operation in (operations or {}).items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code in errors_of(method, operation, path_parameters):
                responses.setdefault(str(code), HTTPStatus(code).name)
