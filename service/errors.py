"""One place that turns engine-layer errors into HTTP responses.

The Camunda REST subset answers with Camunda's error body `{"type": ..., "message": ...}` and its status codes,
so that existing clients (Camunda Modeler, external-task workers) understand the failures they already know.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from workflows import errors

PARSE_ERROR_PREFIX = "ENGINE-09005 Could not parse BPMN process."

# engine error class -> (HTTP status, Camunda exception type)
_CAMUNDA: list[tuple[type[Exception], int, str]] = [
    (errors.DeploymentError, 400, "ParseException"),
    (errors.NotFoundError, 404, "InvalidRequestException"),
    (errors.ConcurrentChangeError, 409, "OptimisticLockingException"),
    (errors.ConflictError, 409, "ProcessEngineException"),
    (errors.PermissionDeniedError, 403, "AuthorizationException"),
    (errors.InvalidInputError, 400, "InvalidRequestException"),
    (errors.DecisionError, 400, "DecisionException"),
    (errors.ExpressionError, 400, "ScriptEvaluationException"),
    (errors.KimflowError, 500, "ProcessEngineException"),
]


class ApiError(Exception):
    """An error raised by the web layer itself (bad request, unauthorised); `extra` adds fields to the body."""

    def __init__(self, status: int, message: str, camunda_type: str = "InvalidRequestException",
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.camunda_type = camunda_type
        self.headers = headers or {}
        self.extra = extra or {}


def camunda_body(error: Exception) -> tuple[dict[str, Any], int]:
    """Camunda's ExceptionDto: type, message and (7.20+) the numeric code: 1 for optimistic locking, else 0."""
    if isinstance(error, ApiError):
        return {"type": error.camunda_type, "message": error.message, **_code(error.camunda_type),
                **error.extra}, error.status
    for cls, status, name in _CAMUNDA:
        if isinstance(error, cls):
            body: dict[str, Any] = {"type": name, "message": _message(error), **_code(name)}
            if isinstance(error, errors.DeploymentError):
                body["details"] = _details(error)
            return body, status
    return {"type": "ProcessEngineException", "message": "Internal error", "code": 0}, 500


def _code(camunda_type: str) -> dict[str, int]:
    if camunda_type == "AuthenticationException":
        return {}
    return {"code": 1 if camunda_type == "OptimisticLockingException" else 0}


def _message(error: Exception) -> str:
    if isinstance(error, errors.DeploymentError):
        return f"{PARSE_ERROR_PREFIX} Errors: " + " | ".join(str(p) for p in error.problems)
    return str(error)


def _details(error: errors.DeploymentError) -> dict[str, Any]:
    """Camunda 7.18+ adds a structured report per resource; kimflow adds the element and line."""
    report: dict[str, Any] = {}
    for problem in error.problems:
        entry = report.setdefault(problem.file, {"errors": [], "warnings": []})
        entry["errors"].append({"message": problem.message, "line": problem.line, "column": None,
                                "mainElementId": problem.element, "elementIds": [problem.element] if problem.element
                                else []})
    return report


def register(app: Flask) -> None:
    @app.errorhandler(errors.KimflowError)
    def engine_error(error: errors.KimflowError) -> Any:
        return _respond(error)

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Any:
        response = _respond(error)
        for name, value in error.headers.items():
            response.headers[name] = value
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if _is_api():
            response = jsonify(type="RestException", message=error.description or error.name, code=0)
            response.status_code = error.code or 500
            return response
        return error

    @app.errorhandler(sa.exc.DataError)
    @app.errorhandler(OverflowError)
    def bad_data(error: Exception) -> Any:
        """Values the database cannot store (NUL characters, numbers out of range) are bad input, not a crash."""
        return _respond(ApiError(400, "A value in the request cannot be stored (out of range or invalid "
                                      "characters)."))

    @app.errorhandler(sa.exc.IntegrityError)
    def integrity(error: Exception) -> Any:
        return _respond(ApiError(409, "The change conflicts with data changed in the meantime; try again.",
                                 "OptimisticLockingException"))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        app.logger.exception("unexpected error")
        if _is_api():
            response = jsonify(type="ProcessEngineException", message="Internal error", code=0)
            response.status_code = 500
            return response
        return "Interner Fehler", 500


def _is_api() -> bool:
    return request.path.startswith(("/engine-rest", "/api/"))


def _respond(error: Exception) -> Any:
    body, status = camunda_body(error)
    response = jsonify(body)
    response.status_code = status
    return response
