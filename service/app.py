"""The Flask application factory."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify

from service import errors
from service.rest import init_api
from service.runtime import Runtime
from service.web import init_web
from workflows import db


def create_app(runtime: Runtime | None = None, **config: Any) -> Flask:
    runtime = runtime or Runtime.build()
    app = Flask(__name__)
    app.config.update(SECRET_KEY=runtime.settings.secret_key, JSON_SORT_KEYS=False, **config)
    app.extensions["kimflow"] = runtime
    errors.register(app)
    init_api(app)
    init_web(app, runtime)
    _health(app, runtime)
    return app


def _health(app: Flask, runtime: Runtime) -> None:
    @app.get("/healthz")
    def healthz() -> Any:
        try:
            current, revision, head = db.schema_is_current(runtime.engine)
            with runtime.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except Exception as error:  # a health check reports, it does not raise
            return jsonify(status="error", database=str(error)), 503
        status = "ok" if current else "outdated-schema"
        return jsonify(status=status, schema=revision, expected_schema=head), (200 if current else 503)
