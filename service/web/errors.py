"""Error pages of the web app, in the user's language; the REST API keeps Camunda's JSON errors."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from service.errors import camunda_body
from service.web.common import page
from workflows.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError


class Forbidden(Exception):
    pass


class Missing(Exception):
    pass


def _web_request() -> bool:
    return not request.path.startswith(("/engine-rest", "/api/"))


def register(app: Flask) -> None:
    def not_found(_error: Exception) -> Any:
        if not _web_request():  # the REST API answers in Camunda's shape
            if isinstance(_error, NotFoundError):
                body, status = camunda_body(_error)
                return jsonify(body), status
            return jsonify(type="RestException", message=getattr(_error, "description", "Not found"), code=0), 404
        return page("web/error.html", title=_("Nicht gefunden"),
                    message=_("Diese Seite gibt es nicht, oder Sie dürfen sie nicht sehen.")), 404

    def forbidden(_error: Exception) -> Any:
        return page("web/error.html", title=_("Keine Berechtigung"),
                    message=_("Für diese Seite fehlt Ihnen die Berechtigung.")), 403

    def csrf_failed(_error: Exception) -> Any:
        return page("web/error.html", title=_("Sitzung abgelaufen"),
                    message=_("Das Formular war zu alt oder unvollständig. Bitte laden Sie die Seite neu und "
                              "versuchen Sie es noch einmal; Ihre Eingaben wurden nicht gespeichert.")), 400

    def conflict(error: Exception) -> Any:
        return page("web/error.html", title=_("Schon erledigt"), message=_(
            "Jemand anderes hat diesen Vorgang inzwischen geändert. Laden Sie die Seite neu.")), 409

    def invalid(error: Exception) -> Any:
        return page("web/error.html", title=_("Ungültige Eingabe"), message=str(error)), 400

    app.register_error_handler(Missing, not_found)
    app.register_error_handler(404, not_found)
    app.register_error_handler(Forbidden, forbidden)
    app.register_error_handler(CSRFError, csrf_failed)
    for kind, handler in ((NotFoundError, not_found), (PermissionDeniedError, forbidden), (ConflictError, conflict),
                          (InvalidInputError, invalid)):
        app.register_error_handler(kind, _only_for_pages(handler))


def _only_for_pages(handler: Any) -> Any:
    """The REST API has its own handlers for engine errors; pages get German pages."""
    def handle(error: Exception) -> Any:
        if not _web_request():
            body, status = camunda_body(error)
            return jsonify(body), status
        return handler(error)

    return handle
