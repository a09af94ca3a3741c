"""What the check service refuses, in its own terms.

The service and the path helpers raise these; one place in the handlers
(`handlers.BaseHandler.call`) turns them into HTTP answers, so the domain code
never speaks HTTP.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the service's refusals; `status` is the HTTP status it maps to."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    """The request is malformed: a missing or mistyped field, a value out of bounds."""

    status = 400


class Forbidden(ServiceError):
    """Well-formed, but not allowed here: a path outside the root, a disabled URL."""

    status = 403


class NotFound(ServiceError):
    """No such check, notebook or file."""

    status = 404


class Conflict(ServiceError):
    """The check is not in a state that allows this (cancelling a finished check)."""

    status = 409


class Busy(ServiceError):
    """The server's queue is full: try again when a check has finished."""

    status = 429
