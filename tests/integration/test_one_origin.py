"""The one origin of the embedded default (embedded/origin.py): the console port serves the three
services by path prefix, the answer links of letters work through it, and ``/`` leads to the console."""

from __future__ import annotations

import re

import requests
from support import wait_for
from test_notifications_email import invite, register

from shared.config import SERVICES


def test_each_prefix_reaches_its_service(platform):
    origin = platform.urls()["console"]
    for name in SERVICES:
        spec = requests.get(f"{origin}/{name}/openapi.json", timeout=10)
        assert spec.status_code == 200, (name, spec.text[:200])
        direct = requests.get(f"{platform.urls()[name]}/openapi.json", timeout=10).json()
        assert spec.json()["info"]["title"] == direct["info"]["title"]
        assert requests.get(f"{origin}/{name}/livez", timeout=10).status_code == 200
        css = requests.get(f"{origin}/{name}/console/static/console.css", timeout=10)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert requests.get(f"{origin}/nowhere/openapi.json", timeout=10).status_code == 404
    home = requests.get(origin + "/", allow_redirects=False, timeout=10)
    assert home.status_code == 302 and home.headers["Location"].endswith("/registry/console/")
    sign_in = requests.get(origin + "/", timeout=10)  # / -> the console -> its sign-in page, in the layout
    assert sign_in.status_code == 200 and sign_in.url.startswith(f"{origin}/registry/console/sign-in")
    assert 'href="/registry/console/static/console.css"' in sign_in.text  # url_for under the mount
    assert '<html lang="vi">' in sign_in.text and "OCOP Xúc tiến thương mại" in sign_in.text


def test_an_api_call_and_an_answer_link_through_the_one_origin(platform):
    origin = platform.urls()["console"]
    api = type(platform.api)({name: f"{origin}/{name}" for name in SERVICES}, platform.api.token_key)
    producer, _, address = register(api)  # writes and reads through /registry and /events
    fair, _ = invite(api, [producer])
    mails = wait_for(
        lambda: [m for m in platform.mailbox.list(2000) if address in m[2]],
        message="the invitation email",
    )
    body = platform.mailbox.get(mails[0][0]).get_body(preferencelist=("plain",)).get_content()
    [link] = re.findall(r"https?://[^/\s]+(/r/[A-Za-z0-9_.\-]+)", body)
    page = requests.get(origin + link, timeout=10)
    assert page.status_code == 200 and fair["name"] in page.text
    assert "text/html" in page.headers["Content-Type"]
    api.close_fairs()
