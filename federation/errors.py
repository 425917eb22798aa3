"""The error a service raises when a request cannot be carried out.

Services are called by the client API and by the inbox; each caller maps `ServiceError` to its own
protocol (a Mastodon `{"error": ...}` response, or a logged refusal).
"""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(message: str = "Record not found") -> ServiceError:
    return ServiceError(404, message)


def invalid(message: str) -> ServiceError:
    return ServiceError(422, f"Validation failed: {message}")


def forbidden(message: str = "This action is not allowed") -> ServiceError:
    return ServiceError(403, message)
