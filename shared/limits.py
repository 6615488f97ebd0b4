"""How much a request may carry: bodies, forms and form fields, answered with 413 and the one
error body before anything is parsed.

- ``OCOP_MAX_BODY_BYTES`` (default 1 MiB): any request body (JSON and the rest). A body that
  declares a larger Content-Length is refused before it is read; one sent chunked (no
  Content-Length) is cut off at the limit while it is read (werkzeug's stream, which every
  reader uses: JSON, forms, ``get_data``).
- ``OCOP_MAX_FORM_BYTES`` (default 64 KiB): a URL-encoded form as a whole (the answer page's).
- ``OCOP_MAX_FORM_PARTS`` (default 50): parts of a multipart form; each text part (not a file) is
  at most ``MULTIPART_FIELD_BYTES`` (werkzeug's ``max_form_memory_size``, which must stay well
  above its 64 KiB read size: it also bounds what one read buffers).

An endpoint that takes more (the registry's file import) says so with ``@body_limit``; its own
limit then replaces the body limit for that endpoint only.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from .config import Settings

MIB = 1024 * 1024
MULTIPART_FIELD_BYTES = 500_000


def body_limit(limit: Callable[[], int]):
    """Let one view take bodies up to ``limit()`` bytes instead of OCOP_MAX_BODY_BYTES. The stream
    is bounded by it from the first hook on; a declared Content-Length over it is the view's to
    refuse (in its own words, naming its field), else werkzeug's when the body is first read."""

    def mark(view):
        view.ocop_body_limit = limit
        return view

    return mark


def _endpoint_limit() -> int | None:
    view = current_app.view_functions.get(request.endpoint or "")
    cls = getattr(view, "view_class", None)
    if cls is not None:
        view = getattr(cls, request.method.lower(), None)
    limit = getattr(view, "ocop_body_limit", None)
    return limit() if limit is not None else None


def limit_of_request() -> tuple[int, bool]:
    """This request's body limit, and whether its endpoint set its own."""
    own = _endpoint_limit()
    limit = own or current_app.config["MAX_CONTENT_LENGTH"]
    if request.mimetype == "application/x-www-form-urlencoded":
        limit = min(limit, current_app.config["OCOP_MAX_FORM_BYTES"])
    return limit, own is not None


def too_large_message() -> str:
    limit = request.environ.get(LIMIT_KEY) or request.max_content_length
    if request.mimetype == "multipart/form-data":
        return (
            f"the request is too large: over {limit} bytes, a form field over {MULTIPART_FIELD_BYTES} bytes "
            f"or more than {current_app.config['MAX_FORM_PARTS']} parts"
        )
    return f"the request body is larger than the limit of {limit} bytes"


LIMIT_KEY = "ocop.body_limit"


class CappedInput(io.RawIOBase):
    """A WSGI input stream of unknown length that raises 413 (RequestEntityTooLarge) once more than
    ``limit`` bytes come through, having read at most one byte past the limit."""

    def __init__(self, stream, limit: int):
        super().__init__()
        self._stream = stream
        self._limit = limit
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        allowed = min(len(buffer), self._limit + 1 - self._pos)
        data = self._stream.read(allowed) if allowed > 0 else b""
        self._pos += len(data)
        if self._pos > self._limit:
            raise RequestEntityTooLarge()
        buffer[: len(data)] = data
        return len(data)


def install(app: Flask, settings: Settings, refuse) -> None:
    """Set the app's limits from its settings (read when it starts), and a hook that applies this endpoint's limit to
    the request before any later hook or the view reads the body (``refuse(status, message)``
    answers with the one error body). Whatever runs before it, the app's MAX_CONTENT_LENGTH holds."""
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["OCOP_MAX_FORM_BYTES"] = settings.max_form_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = MULTIPART_FIELD_BYTES
    app.config["MAX_FORM_PARTS"] = settings.max_form_parts

    def bound_body():
        limit, own = limit_of_request()
        request.environ[LIMIT_KEY] = limit
        if request.content_length is None and "wsgi.input_terminated" in request.environ:
            # Sent chunked: werkzeug's own limit would cut such a body at the limit without a word
            # (a JSON body, a URL-encoded form read whole); this stream refuses it instead.
            request.environ["wsgi.input"] = CappedInput(request.environ["wsgi.input"], limit)
            request.max_content_length = limit + 1  # werkzeug's cut (None: the app's) after this stream's 413
            return None
        request.max_content_length = limit
        if not own and request.content_length is not None and request.content_length > limit:
            return refuse(413, too_large_message())
        return None

    app.before_request(bound_body)
