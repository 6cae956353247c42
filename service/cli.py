"""The `kimflow` command line: database, deployments, accounts and the server."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import click

from workflows import accounts, db, definitions
from workflows.errors import DeploymentError, KimflowError
from workflows.settings import load_settings, settings_markdown


@click.group()
def main() -> None:
    """kimflow — BPMN-Prozesse für das Kommunale Integrationsmanagement NRW."""


@main.group(name="db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest migration."""
    settings = load_settings()
    db.upgrade(settings.database_url)
    click.echo(f"Schema is current ({_safe_url(settings.database_url)}).")


def _safe_url(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def _runtime(clock=None):  # type: ignore[no-untyped-def]
    from service.runtime import Runtime

    runtime = Runtime.build(clock=clock)
    current, revision, head = db.schema_is_current(runtime.engine)
    if not current:
        raise click.ClickException(f"The database schema is outdated ({revision or 'empty'}, newest is {head}): "
                                   "run `kimflow db upgrade` first.")
    return runtime


def _collect(paths: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.is_file() and definitions.kind_of(p.name) != "resource")
            files.extend(sorted(found))
        elif path.is_file():
            files.append(path)
        else:
            raise click.ClickException(f"No such file or folder: {raw}")
    return files


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", default="kimflow-cli", help="Deployment name.")
def deploy(paths: tuple[str, ...], name: str) -> None:
    """Deploy BPMN, DMN and form files (or folders of them) as one deployment."""
    runtime = _runtime()
    files = _collect(paths)
    if not files:
        click.echo("No BPMN, DMN or form files found; nothing to deploy.")
        return
    try:
        with runtime.command() as ctx:
            result = definitions.deploy(ctx, [(f.name, f.read_bytes()) for f in files], name=name, source="cli")
    except DeploymentError as error:
        click.echo("Deployment refused; nothing was stored:", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    if result.duplicate:
        click.echo("Nothing changed; no new versions.")
        return
    for item in [*result.processes, *result.decisions, *result.forms]:
        click.echo(f"deployed {item.key} version {item.version}")


@main.group()
def users() -> None:
    """Local accounts."""


@users.command("add")
@click.argument("name")
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(accounts.ROLES))
@click.option("--group", "groups", multiple=True, help="Group membership (repeatable).")
@click.option("--display-name", default=None)
@click.option("--email", default=None)
def users_add(name: str, password: str, role: str, groups: tuple[str, ...], display_name: str | None,
              email: str | None) -> None:
    """Create a user (or update an existing one's password, role and groups)."""
    runtime = _runtime()
    try:
        with runtime.command() as ctx:
            accounts.add_user(ctx, name, password=password, role=role, groups=groups, display_name=display_name,
                              email=email)
    except KimflowError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"user {name} ({role}) saved with groups: {', '.join(groups) or '-'}")


@main.group()
def tokens() -> None:
    """API tokens for technical clients."""


@tokens.command("create")
@click.argument("user")
@click.option("--name", required=True, help="What the token is for.")
def tokens_create(user: str, name: str) -> None:
    """Create a bearer token for USER; it is shown once."""
    runtime = _runtime()
    try:
        with runtime.command() as ctx:
            token = accounts.create_token(ctx, user, name)
    except KimflowError as error:
        raise click.ClickException(str(error)) from error
    click.echo(token)


@main.command()
@click.option("--host", default=None, help="Address to bind (default from settings).")
@click.option("--port", default=None, type=int, help="Port (default from settings).")
@click.option("--threads", default=8, type=int)
def serve(host: str | None, port: int | None, threads: int) -> None:
    """Serve the web app and APIs with a production WSGI server (waitress)."""
    import waitress

    from service import scheduler
    from service.app import create_app

    runtime = _runtime()
    settings = runtime.settings
    app = create_app(runtime)
    host, port = host or settings.host, port or settings.port
    running = None
    if settings.scheduler_enabled:
        running = scheduler.start_in_background(runtime)
        click.echo(f"timer scheduler running in this process (every {settings.scheduler_interval_seconds} s)")
    else:
        click.echo("timer scheduler off here (KIMFLOW_SCHEDULER_ENABLED=false): run `kimflow worker` processes")
    click.echo(f"kimflow serving on http://{host}:{port}")
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="kimflow")
    finally:
        if running is not None:
            running.stop(wait=False)


@main.command()
def worker() -> None:
    """Run the scheduler alone: timers, retries, lock expiry, escalations, reminders, e-mail (start several;
    they never fire the same timer twice). SIGTERM or Ctrl-C stop it after the current unit of work."""
    from service import scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per tick
    clock = scheduler.clock_from_env()
    runtime = _runtime(clock)
    if os.environ.get(scheduler.FIXED_NOW):
        click.echo(f"WARNING: {scheduler.FIXED_NOW} is set: this worker's clock stands still at {clock.now()} "
                   "(for tests only)", err=True)
    click.echo(f"kimflow worker {scheduler.worker_id()} ticking every {runtime.settings.scheduler_interval_seconds} s")
    scheduler.run_forever(runtime)


@main.command()
@click.option("--at", default=None, help="Seed as if it were this moment (ISO 8601, e.g. 2026-11-25T09:00:00+01:00; "
                                         "default: now). The same moment gives the same data.")
def demo(at: str | None) -> None:
    """Create the demo accounts (config/demo.toml) and about 60 fictional cases, driven through the engine.

    Cases are seeded only into a database without cases, so running it again (as `make run` does) keeps what
    people did since."""
    from datetime import datetime

    from workflows import demo as demo_data

    runtime = _runtime()
    try:
        moment = datetime.fromisoformat(at) if at else runtime.clock.now()
    except ValueError as error:
        raise click.ClickException(f"--at: {error}") from error
    began = time.monotonic()
    try:
        report = demo_data.seed(runtime.sessions, runtime.settings, now=moment)
    except KimflowError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"demo accounts created: {', '.join(report.users_created) or 'none (all exist)'}")
    if not report.seeded:
        click.echo("The database has cases already: no demo cases added.")
        return
    counts = ", ".join(f"{key} {count}" for key, count in sorted(report.cases.items()))
    click.echo(f"demo cases seeded in {time.monotonic() - began:.1f} s: {counts}")


@main.command("settings")
def show_settings() -> None:
    """Every setting with its environment variable and default (the README's table)."""
    click.echo(settings_markdown())


if __name__ == "__main__":
    main()
