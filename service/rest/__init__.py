"""The Camunda 7 REST subset under /engine-rest, documented at /engine-rest/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
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
        return {"type": kind, "message": message}, code, data.get("headers", {})


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
