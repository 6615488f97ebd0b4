"""Errors operations raise; web.init_app turns each into the one error body of every service."""

from __future__ import annotations


class OperationError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def errors(self):
        return {"json": {self.field: [self.message]}} if self.field else None


class NotFound(OperationError):
    status = 404


class Conflict(OperationError):
    status = 409


class Invalid(OperationError):
    status = 422


class Forbidden(OperationError):
    status = 403
