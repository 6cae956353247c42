"""The Camunda 7 REST subset under /engine-rest, documented at /engine-rest/openapi.json.

Request and response shapes follow the Camunda 7 REST reference (7.22; engine-rest-openapi templates): field
names, typed variables `{"x": {"value": 1, "type": "Integer", "valueInfo": {}}}`, dates as
yyyy-MM-dd'T'HH:mm:ss.SSSZ, `{"count": n}`, errors as `{"type", "message", "code"}`.

Where kimflow differs on purpose (a client that follows the reference works either way):
- Unknown or invisible ids answer 404 everywhere. Camunda answers 500 for claim/unclaim/assignee/complete of an
  unknown task; kimflow does not tell a caseworker of another group that a task exists, so those are 404 too.
- Conflicts answer 409 (Camunda: 500): a task claimed by someone else (TaskAlreadyClaimedException), a
  suspended instance (SuspendedEntityInteractionException), a deployment with running instances, an external
  task locked by another worker (Camunda: 400). Lost optimistic locking races are OptimisticLockingException
  with code 1, as in Camunda.
- Dates are written in UTC (+0000); Camunda writes the server's zone. Both are the documented format; dates in
  requests may carry any offset, and a `+` a client forgot to percent-encode in a query string is accepted.
- Lists without maxResults answer at most 100 rows (Camunda: all); maxResults may go up to 10,000.
- Variables of a process instance are the instance's; there are no local (execution/task) variables.
- Ended instances are not runtime objects: /process-instance/{id} and its sub-resources answer 404 for them, as
  in Camunda; they live on in /history.
- Tenants: `tenant-id` at deploy and `tenantId` filters are stored and matched, nothing more.
- CORS: Camunda Modeler calls from a file:// page; preflights from the origins `file://` and `null` are
  answered (without Allow-Credentials: Modeler sends its Authorization header itself).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from service.rest import external_api, history_api, repository, runtime_api
from service.rest.schemas import ErrorBody

BLUEPRINTS = (repository.blp, runtime_api.blp, external_api.blp, history_api.blp)


class CamundaApi(Api):  # type: ignore[misc]
    """flask-smorest, answering errors with Camunda's body ({type, message}) and its status codes."""

    ERROR_SCHEMA = ErrorBody

    def handle_http_exception(self, error: HTTPException) -> Any:
        if not request.path.startswith(("/engine-rest", "/api/")):
            return error
        data = getattr(error, "data", None) or {}
        code = error.code or 500
        if code == 422:  # webargs' validation errors are Camunda's 400 InvalidRequestException
            code = 400
        messages = data.get("messages") or data.get("errors")
        message = data.get("message") or error.description or error.name
        if messages:
            message = f"{message}: {messages}"
        kind = "InvalidRequestException" if code < 500 else "ProcessEngineException"
        return {"type": kind, "message": message, "code": 0}, code, data.get("headers", {})


MODELER_ORIGINS = frozenset({"file://", "null"})


def _cors(response: Response) -> Response:
    """Let Camunda Modeler (an Electron page loaded from file://) read the answers of /engine-rest."""
    origin = request.headers.get("Origin")
    if origin in MODELER_ORIGINS and request.path.startswith("/engine-rest"):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Accept"
            response.headers["Access-Control-Max-Age"] = "600"
    return response


def init_api(app: Flask) -> None:
    app.config.update(
        API_TITLE="kimflow – Camunda 7 REST subset",
        API_VERSION="7.22.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/engine-rest",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "The part of the Camunda 7 REST API that kimflow implements: what Camunda "
                                    "Modeler's Deploy and Start buttons and external-task workers use."},
            "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                                               "bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"basic": []}, {"bearer": []}],
        },
    )
    api = CamundaApi(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.after_request(_cors)
