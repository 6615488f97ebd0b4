"""What every HTML page the platform serves (the producer's answer page, the embedded console) sends
with it, and the checks a page's form makes.

Headers (``secure``, for HTML responses only): a Content-Security-Policy that allows no script at
all, styles only from the page's own ``<style nonce>`` (``nonce()``), images only from the service or
``data:``, forms posted only back to the service, no framing (``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``), no ``<base>``; ``Referrer-Policy: no-referrer`` (an answer link is a
credential: it must not leave in a Referer), ``Cache-Control: no-store`` (nor stay in a shared
cache), ``X-Content-Type-Options: nosniff``, ``Cross-Origin-Opener-Policy: same-origin``.

Forms (``foreign_post``): a POST that a browser says came from another site is refused. Browsers
send ``Sec-Fetch-Site`` (``same-origin`` for the page's own form); one that does not is judged by
``Origin``, then ``Referer``. With ``no-referrer`` a browser sends ``Origin: null`` for the page's own
form, so ``null`` is let through when ``Sec-Fetch-Site`` is missing. Clients that are not browsers
send none of these and are not refused: the signed link in the URL is what authorises an answer.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import g, request

HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def nonce() -> str:
    """This response's CSP nonce, for the page's ``<style nonce="...">`` (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def policy(style_nonce: str | None, *, inline_style_attributes: bool = False, sandbox: bool = False) -> str:
    """The Content-Security-Policy of a page. ``inline_style_attributes``: the page shows HTML that
    styles itself with ``style=""`` (an email, in the console), so inline styles are allowed and no
    nonce is used (a nonce would make browsers ignore ``'unsafe-inline'``); scripts stay forbidden.
    ``sandbox``: the page runs in a unique origin and may not run scripts even if one got in."""
    if inline_style_attributes:
        style = "'unsafe-inline'"
    else:
        style = f"'nonce-{style_nonce}'" if style_nonce else "'self'"
    parts = [
        "default-src 'none'",
        f"style-src {style}",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
    if sandbox:
        parts.append("sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation")
    return "; ".join(parts)


def secure(response, **csp):
    """The page headers on an HTML response (others pass unchanged); use as ``after_request``.
    ``csp``: options of ``policy`` for this response (default: the strict one, with this request's
    nonce if the page used one)."""
    if response.mimetype != "text/html":
        return response
    for name, value in HEADERS.items():
        response.headers[name] = value
    response.headers["Content-Security-Policy"] = policy(g.get("csp_nonce"), **csp)
    return response


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def foreign_post(public_url: str) -> str | None:
    """Why this POST came from another site than ``public_url``'s, as a browser reports it; None
    when it did not (or the client is no browser and says nothing)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site: {site}"
    ours = (origin_of(public_url), origin_of(request.host_url))  # as published, or as this request reached us
    origin = request.headers.get("Origin")
    if origin is not None:
        return None if origin.lower() in (*ours, "null") else "Origin is another site"
    referer = request.headers.get("Referer")
    if referer is not None and origin_of(referer) not in ours:
        return "Referer is another site"
    return None


def csrf_field():
    """The hidden input carrying the session's csrf claim (docs/console-api.md; shared.sessions)."""
    from .sessions import csrf_field as field

    return field()
