"""The web app's blueprint: server-rendered pages in German (English as the second language)."""

from __future__ import annotations

from flask import Blueprint

web = Blueprint("web", __name__, template_folder="../templates")
