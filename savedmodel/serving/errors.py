"""Errors the REST server turns into `{"error": "..."}` responses.

Each error carries one of TensorFlow's canonical status codes; `http_status`
maps it to an HTTP status exactly as TF Serving's http_server.cc does.
"""

from __future__ import annotations

from savedmodel.errors import SavedModelError

# TF Serving's mapping of canonical status codes to HTTP status codes.
HTTP_STATUS_BY_CODE: dict[str, int] = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


class ServingError(SavedModelError):
    """A request failed with a TensorFlow status code (INVALID_ARGUMENT, NOT_FOUND, ...)."""

    def __init__(self, code: str, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self._http_status = http_status

    @property
    def http_status(self) -> int:
        if self._http_status is not None:
            return self._http_status
        return HTTP_STATUS_BY_CODE.get(self.code, 500)


def invalid_argument(*parts: object) -> ServingError:
    return ServingError("INVALID_ARGUMENT", "".join(str(p) for p in parts))


def not_found(*parts: object) -> ServingError:
    return ServingError("NOT_FOUND", "".join(str(p) for p in parts))


def unimplemented(*parts: object) -> ServingError:
    return ServingError("UNIMPLEMENTED", "".join(str(p) for p in parts))


def failed_precondition(*parts: object) -> ServingError:
    return ServingError("FAILED_PRECONDITION", "".join(str(p) for p in parts))


def internal(*parts: object) -> ServingError:
    return ServingError("INTERNAL", "".join(str(p) for p in parts))
