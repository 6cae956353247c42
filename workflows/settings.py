"""One typed settings object, built from config/kimflow.toml and the environment.

Every key is listed here with its type, default and meaning; the README's configuration table is generated
from SETTINGS_DOC by `kimflow settings` so the two cannot drift apart.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'instance' / 'kimflow.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=_default_database_url)
    secret_key: str = "dev-only-change-me"
    timezone: str = "Europe/Berlin"
    expression_time_limit: float = 1.0
    expression_max_steps: int = 200_000
    max_deployment_bytes: int = 10_000_000
    external_task_default_retries: int = 3
    job_retries: int = 3
    job_retry_delay_seconds: int = 300
    scheduler_enabled: bool = True
    scheduler_interval_seconds: float = 1.0
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "kimflow@localhost"
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    document_dir: str = field(default_factory=lambda: str(PROJECT_ROOT / "instance" / "documents"))
    max_document_bytes: int = 10_000_000
    session_hours: float = 8.0
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_window_minutes: int = 15
    host: str = "127.0.0.1"
    port: int = 5000
    config_dir: str = field(default_factory=lambda: str(PROJECT_ROOT / "config"))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "database_url": ("DATABASE_URL", "SQLAlchemy URL; SQLite file by default, "
                     "`postgresql+psycopg://user@host/db` in production."),
    "secret_key": ("KIMFLOW_SECRET_KEY", "Signs session cookies and CSRF tokens. Set it in production."),
    "timezone": ("KIMFLOW_TIMEZONE", "Time zone for calendars and display; the database stores UTC."),
    "expression_time_limit": ("KIMFLOW_EXPRESSION_TIME_LIMIT",
                              "Seconds one expression or script may run before it is stopped."),
    "expression_max_steps": ("KIMFLOW_EXPRESSION_MAX_STEPS",
                             "Interpreter steps one expression or script may take."),
    "max_deployment_bytes": ("KIMFLOW_MAX_DEPLOYMENT_BYTES", "Largest accepted deployment (all files together)."),
    "external_task_default_retries": ("KIMFLOW_EXTERNAL_TASK_DEFAULT_RETRIES",
                                      "Retries an external task gets when a worker reports failure "
                                      "without giving retries."),
    "job_retries": ("KIMFLOW_JOB_RETRIES", "Attempts for a failing automatic step before an incident "
                    "(a model's camunda:failedJobRetryTimeCycle overrides it)."),
    "job_retry_delay_seconds": ("KIMFLOW_JOB_RETRY_DELAY_SECONDS", "Pause between automatic retries."),
    "scheduler_enabled": ("KIMFLOW_SCHEDULER_ENABLED",
                          "Run the timer scheduler inside `kimflow serve` (turn off when separate "
                          "`kimflow worker` processes run)."),
    "scheduler_interval_seconds": ("KIMFLOW_SCHEDULER_INTERVAL", "Seconds between scheduler ticks."),
    "smtp_host": ("KIMFLOW_SMTP_HOST", "SMTP server for notification e-mails (empty: no e-mail, in-app only)."),
    "smtp_port": ("KIMFLOW_SMTP_PORT", "SMTP port."),
    "smtp_from": ("KIMFLOW_SMTP_FROM", "Sender address of notification e-mails."),
    "smtp_starttls": ("KIMFLOW_SMTP_STARTTLS", "Use STARTTLS."),
    "smtp_user": ("KIMFLOW_SMTP_USER", "SMTP login (empty: no login)."),
    "smtp_password": ("KIMFLOW_SMTP_PASSWORD", "SMTP password."),
    "document_dir": ("KIMFLOW_DOCUMENT_DIR", "Folder for uploaded documents (outside the web root; stored by "
                     "content hash)."),
    "max_document_bytes": ("KIMFLOW_MAX_DOCUMENT_BYTES", "Largest accepted document upload."),
    "session_hours": ("KIMFLOW_SESSION_HOURS", "Hours a login lasts without activity."),
    "cookie_secure": ("KIMFLOW_COOKIE_SECURE", "Send the session cookie over HTTPS only (set true behind TLS)."),
    "login_max_failures": ("KIMFLOW_LOGIN_MAX_FAILURES", "Failed logins per user name (or address, times four) "
                           "before logins pause."),
    "login_window_minutes": ("KIMFLOW_LOGIN_WINDOW_MINUTES", "Minutes over which failed logins are counted and "
                             "a paused login waits."),
    "host": ("KIMFLOW_HOST", "Address `kimflow serve` binds to."),
    "port": ("KIMFLOW_PORT", "Port `kimflow serve` listens on."),
    "config_dir": ("KIMFLOW_CONFIG_DIR", "Folder with kimflow.toml, groups and calendar files."),
}


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then config/kimflow.toml, then environment variables, then explicit overrides."""
    env = dict(os.environ if env is None else env)
    settings = Settings()
    config_dir = Path(env.get("KIMFLOW_CONFIG_DIR", settings.config_dir))
    values: dict[str, Any] = {"config_dir": str(config_dir)}
    toml_file = config_dir / "kimflow.toml"
    if toml_file.exists():
        values.update(tomllib.loads(toml_file.read_text(encoding="utf-8")).get("kimflow", {}))
    for name, (variable, _doc) in SETTINGS_DOC.items():
        if variable in env:
            values[name] = env[variable]
    values.update(overrides)
    return replace(settings, **_coerce(values))


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    types = {f.name: f.type for f in fields(Settings)}
    unknown = set(values) - set(types)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    return {name: _convert(types[name], value) for name, value in values.items()}


def _convert(type_name: Any, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if type_name == "bool":
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if type_name == "int":
        return int(value)
    if type_name == "float":
        return float(value)
    return value


def settings_table() -> list[tuple[str, str, str, str]]:
    """Rows (setting, environment variable, default, meaning) for the README."""
    defaults = Settings()
    rows = []
    for name, (variable, doc) in SETTINGS_DOC.items():
        default = getattr(defaults, name)
        if name in {"database_url", "config_dir", "document_dir"}:
            default = {"database_url": "instance/kimflow.db (SQLite)", "config_dir": "config/",
                       "document_dir": "instance/documents/"}[name]
        rows.append((name, variable, str(default), doc))
    return rows


def settings_markdown() -> str:
    """The configuration table as Markdown (what `kimflow settings` prints and the README shows)."""
    lines = ["| Setting | Environment variable | Default | Meaning |", "|---|---|---|---|"]
    for name, variable, default, doc in settings_table():
        shown = f"`{default}`" if default else "(empty)"
        lines.append(f"| `{name}` | `{variable}` | {shown} | {doc} |")
    return "\n".join(lines)
