"""Request limits through the real HTTP servers, in both modes: an oversized body or form is a 413
with the one error body before it is parsed (declared or sent chunked), a body nested too deep
to decode is a 400, a control character, a lone surrogate or an over-long value in a request
field is a 422 naming it, and /metrics keeps no label for a method a client invents. After each,
the service still answers."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import requests
from support import ROOT
from test_bad_input import (
    create_fair,
    in_read_model,
    link_for,
    producer_body,
    publish,
    refused,
    register_certified,
    unchanged,
)

MIB = 1024 * 1024
SERVICES = ["registry", "events", "notifications"]
# A fair admitting only producers from here (no other test module's producers live in Đà Nẵng).
PROVINCE = "Đà Nẵng"


def chunks(total: int, size: int = 64 * 1024):
    """A body sent without Content-Length (Transfer-Encoding: chunked)."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b" " * part


def still_answers(api, service: str) -> None:
    assert api.call("GET", service, "/livez").status_code == 200


def auth(api, role="registry_officer"):
    return {"Authorization": f"Bearer {api.token(role)}"}


# ---- bodies ----------------------------------------------------------------------------------
def test_the_default_limits(platform):
    for runtime in platform.runtimes.values():  # the settings each service read at start
        s = runtime.settings
        assert (s.max_body_bytes, s.max_form_bytes, s.max_form_parts) == (MIB, 64 * 1024, 50)


@pytest.mark.parametrize("service", SERVICES)
def test_a_json_body_over_the_limit_is_a_413_before_it_is_read(platform, api, service):
    path = {"registry": "/producers", "events": "/fairs", "notifications": "/webhooks"}[service]
    role = {"registry": "registry_officer", "events": "trade_officer", "notifications": "admin"}[service]
    body = b'{"name": "' + b"x" * (MIB + 10) + b'"}'
    with unchanged(platform, service):
        r = api.call("POST", service, path, role, data=body, headers={"Content-Type": "application/json"})
        assert "1048576 bytes" in refused(r, 413)["message"]
    still_answers(api, service)


def test_a_chunked_body_over_the_limit_is_a_413_once_the_limit_is_read(platform, api):
    headers = {**auth(api), "Content-Type": "application/json"}
    with unchanged(platform, "registry"):
        r = api.http.post(api.urls["registry"] + "/producers", data=chunks(MIB + 1), headers=headers, timeout=30)
        assert "Content-Length" not in r.request.headers and r.request.headers["Transfer-Encoding"] == "chunked"
        refused(r, 413)
    # under the limit, the same way of sending is read and judged as usual
    r = api.http.post(api.urls["registry"] + "/producers", data=chunks(1000), headers=headers, timeout=30)
    refused(r, 400)
    still_answers(api, "registry")


def test_the_import_upload_keeps_its_own_larger_limit(platform, api):
    """2 MiB is over the body limit but within OCOP_IMPORT_MAX_BYTES: the file is read (and refused
    for what it is, not for its size)."""
    content = b"STT,x\n" + (b"1," + b"y" * 2100 + b"\n") * 1000
    r = api.http.post(
        api.urls["registry"] + "/imports",
        headers=auth(api),
        timeout=60,
        files={"file": ("list.csv", content, "text/csv")},
    )
    assert r.status_code == 422, r.text


def test_a_body_nested_too_deep_is_a_400_not_a_500(platform, api):
    deep = "[" * 100_000 + "]" * 100_000
    for service, path, role in (
        ("registry", "/producers", "registry_officer"),
        ("events", "/fairs", "trade_officer"),
        ("notifications", "/webhooks", "admin"),
    ):
        with unchanged(platform, service):
            r = api.call("POST", service, path, role, data=deep, headers={"Content-Type": "application/json"})
            refused(r, 400)
        still_answers(api, service)


# ---- the answer page's form --------------------------------------------------------------------
@pytest.fixture(scope="module")
def answer_link(platform):
    api = platform.api
    producer, product, _ = register_certified(api, province=PROVINCE)
    in_read_model(api, product["id"])
    publish(api, create_fair(api, rules={"min_stars": 4, "provinces": [PROVINCE]})["id"])
    return link_for(platform, producer["email"])


def test_an_answer_form_over_the_form_limit_is_a_413_declared_or_chunked(platform, api, answer_link):
    form = "answer=accept&note=" + "x" * (64 * 1024)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with unchanged(platform, "notifications"):
        r = api.http.post(answer_link, data=form.encode(), headers=headers, timeout=30)
        assert "65536 bytes" in refused(r, 413)["message"]
        r = api.http.post(answer_link, data=chunks(64 * 1024 + 1), headers=headers, timeout=30)
        assert r.request.headers["Transfer-Encoding"] == "chunked"
        refused(r, 413)
        # 64 MiB, as the attacker sent: refused at once, never parsed
        r = api.http.post(answer_link, data=b"note=" + b"x" * (64 * MIB), headers=headers, timeout=30)
        refused(r, 413)
    # the link still works: the page opens, and a form within the limit is judged as usual
    assert api.http.get(answer_link, timeout=10).status_code == 200
    r = api.http.post(answer_link, data={"answer": "maybe"}, timeout=10)
    assert r.status_code == 422


# ---- fields ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("HTX Kẹo dừa\r\nBcc: victim@example.vn", "line break"),
        ("HTX\tKẹo dừa", "control character"),
        ("HTX Kẹo dừa\u2028", "line break"),
        ("HTX \u202eKẹo dừa", "control character"),
        ("HTX Kẹo dừa \ud800", "surrogate"),
    ],
)
def test_control_characters_and_lone_surrogates_in_a_name_are_a_422_naming_it(platform, api, value, says):
    with unchanged(platform, "registry"):
        r = api.call("POST", "registry", "/producers", "registry_officer", json=producer_body(name=value))
        body = refused(r, 422, "name")
        assert says in body["errors"]["json"]["name"][0]


def test_a_lone_surrogate_written_as_a_json_escape_is_a_422(platform, api):
    raw = re.sub(r'"name": "[^"]*"', r'"name": "HTX \\ud800"', json.dumps(producer_body()))
    assert "\\ud800" in raw
    with unchanged(platform, "registry"):
        r = api.call(
            "POST", "registry", "/producers", "registry_officer", data=raw, headers={"Content-Type": "application/json"}
        )
        refused(r, 422, "name")


def test_a_five_mebibyte_description_is_refused_and_five_thousand_characters_are_not(platform, api):
    producer = api.call("POST", "registry", "/producers", "registry_officer", json=producer_body()).json()
    product = {"producer_id": producer["id"], "name": "Kẹo dừa sáp", "group": 1}
    with unchanged(platform, "registry"):
        r = api.call("POST", "registry", "/products", "registry_officer", json={**product, "description": "x" * 5001})
        assert "5000" in refused(r, 422, "description")["errors"]["json"]["description"][0]
    r = api.call(
        "POST",
        "registry",
        "/products",
        "registry_officer",
        json={**product, "description": "Dòng một\r\nDòng hai " + "x" * 4980},
    )
    assert r.status_code == 201, r.text
    assert r.json()["description"].startswith("Dòng một\nDòng hai ")


# ---- metrics -----------------------------------------------------------------------------------
def method_labels(api, service: str) -> set[str]:
    text = api.call("GET", service, "/metrics").text
    return set(re.findall(r'ocop_http_request_duration_seconds_count\{[^}]*method="([^"]*)"', text))


def test_invented_methods_add_no_label_values(api):
    for service in SERVICES:
        api.call("FROB", service, "/livez")  # "other" exists from here on
        before = method_labels(api, service)
        for i in range(50):
            r = requests.request(f"X{i:02d}INVENTED", api.urls[service] + "/livez", timeout=10)
            assert r.status_code == 405
        assert method_labels(api, service) == before
        assert "other" in before and not any("INVENTED" in m for m in before)


# ---- the OpenAPI documents ---------------------------------------------------------------------
def _open_strings(node, where, out):
    """Request strings without maxLength and arrays without maxItems, anywhere in a schema."""
    if isinstance(node, dict):
        if (
            node.get("type") == "string"
            and "maxLength" not in node
            and not ({"enum", "format"} & set(node))
            and node.get("format") not in ("binary",)
        ):
            out.append(where)
        if node.get("type") == "array" and "maxItems" not in node:
            out.append(where)
        for key, value in node.items():
            _open_strings(value, f"{where}.{key}", out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _open_strings(value, f"{where}[{i}]", out)


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_string_and_list_has_a_documented_maximum(api, service):
    spec = api.http.get(api.urls[service] + "/openapi.json", timeout=10).json()
    schemas = spec.get("components", {}).get("schemas", {})

    def resolve(node):
        ref = node.get("$ref") if isinstance(node, dict) else None
        return schemas[ref.split("/")[-1]] if ref else node

    missing: list[str] = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            for p in op.get("parameters", []):
                if p.get("in") == "query":
                    _open_strings(p.get("schema", {}), f"{method} {path} ?{p['name']}", missing)
            for media in op.get("requestBody", {}).get("content", {}).values():
                top = resolve(media.get("schema", {}))
                _open_strings(_inline(top, resolve), f"{method} {path} body", missing)
    assert missing == [], missing


def _inline(node, resolve, depth=0):
    """The schema with its references (to request schemas) written out, to a bounded depth."""
    node = resolve(node)
    if depth > 5 or not isinstance(node, dict):
        return node
    out = dict(node)
    if isinstance(node.get("properties"), dict):
        out["properties"] = {name: _inline(s, resolve, depth + 1) for name, s in node["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out[key] = _inline(node[key], resolve, depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            out[key] = [_inline(s, resolve, depth + 1) for s in node[key]]
    return out


# ---- the bulk import ---------------------------------------------------------------------------
IMPORT_HEADER = (
    "Mã số thuế,Tên chủ thể,Loại hình,Tỉnh,Tên sản phẩm,Nhóm,Điểm,Cơ quan cấp,Số quyết định,Ngày quyết định\n"
)


def upload(api, content: bytes, **form):
    return api.http.post(
        api.urls["registry"] + "/imports",
        headers=auth(api),
        timeout=60,
        data=form,
        files={"file": ("list.csv", content, "text/csv")},
    )


def test_an_import_with_100000_columns_is_a_short_413(platform, api):
    content = ("Mã số thuế," * 100_000 + "x\n").encode()  # 1.3 MB; the fuzzer's 689 kB gave a 74 MB answer
    with unchanged(platform, "registry"):
        r = upload(api, content)
        assert "more than 60 cells" in refused(r, 413, "file", location="files")["message"]
    assert len(r.content) < 2000


def test_an_import_report_lists_the_first_200_errors_and_counts_them_all(platform, api, tmp_path):
    bad = "".join(
        f"IMLIM{n:06d},HTX số {n},Hợp tác xã,Điện Biên,Gạo {n},1,{'x' * 5000},UBND tỉnh Điện Biên,9/QĐ-UBND,20/7/2025\n"
        for n in range(3000)
    )
    content = (IMPORT_HEADER + bad).encode()
    with unchanged(platform, "registry"):
        report = upload(api, content).json()
        assert (report["valid"], report["error_count"], report["rows_with_errors"]) == (False, 3000, 3000)
        assert len(report["errors"]) == 200 and "the first 200 of 3000 errors" in report["message"]
        assert all(len(e["value"]) <= 201 and len(e["message"]) <= 201 for e in report["errors"])
        applied = upload(api, content, dry_run="false")
        body = refused(applied, 422, "rows", location="files")
        assert len(body["errors"]["files"]["rows"]) == 200 and "3000 of 3000 rows" in body["message"]
        assert len(applied.content) < 200_000
        # the command line prints the same bounded report (in a process of its own, as an officer runs it:
        # in this one its app's engine would outlive the test)
        path = tmp_path / "sai.csv"
        path.write_bytes(content)
        done = subprocess.run(
            [sys.executable, "-m", "services.registry.manage", "import", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert done.returncode == 1, done.stderr
        printed = json.loads(done.stdout)
        assert (len(printed["errors"]), printed["error_count"]) == (200, 3000)
