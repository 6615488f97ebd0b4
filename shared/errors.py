"""Errors operations raise; web.init_app turns each into the one error body of every service."""

from __future__ import annotations


class OperationError(Exception):
    """``cause``: a short code saying which rule refused, for messages that carry it (e.g.
    ``events.invitation.answer_refused``); the message says it in words."""

    status = 400
    location = "json"  # where the field is: the request body ("json"), the query string ("query")

    def __init__(self, message: str, field: str | None = None, cause: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.cause = cause

    def errors(self):
        """Shaped like marshmallow's: a dotted field ("score_parts.a") nests as {"score_parts": {"a": [...]}}."""
        if not self.field:
            return None
        return {self.location: nest(self.field, [self.message])}


def nest(field: str, messages):
    """A dotted field's messages nested as marshmallow nests them: "score_parts.a" -> {"score_parts": {"a": ...}}."""
    node = messages
    for part in reversed(field.split(".")):
        node = {part: node}
    return node


class NotFound(OperationError):
    status = 404


class Conflict(OperationError):
    status = 409


class Invalid(OperationError):
    status = 422


class Forbidden(OperationError):
    status = 403
