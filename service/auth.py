"""Who is calling: HTTP Basic against local accounts or a Bearer token for technical clients.

Argon2 is slow on purpose, and external-task workers poll every few seconds, so a successful check is
remembered for a minute (by a digest of the credentials, never the password itself). Failed attempts are
counted per user and per address; too many in a short time are refused before the password is checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from flask import request

from service.errors import ApiError
from service.runtime import Runtime
from workflows import accounts
from workflows.context import Actor

CACHE_SECONDS = 60.0
FAILURE_WINDOW_SECONDS = 300.0
MAX_FAILURES = 10


@dataclass
class _Memory:
    verified: dict[str, tuple[Actor, float]] = field(default_factory=dict)
    failures: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def remembered(self, key: str) -> Actor | None:
        with self.lock:
            entry = self.verified.get(key)
            if entry and entry[1] > time.monotonic():
                return entry[0]
            self.verified.pop(key, None)
            return None

    def remember(self, key: str, actor: Actor) -> None:
        with self.lock:
            if len(self.verified) > 10_000:
                self.verified.clear()
            self.verified[key] = (actor, time.monotonic() + CACHE_SECONDS)

    def throttled(self, *keys: str) -> bool:
        now = time.monotonic()
        with self.lock:
            for key in keys:
                attempts = self.failures.get(key)
                while attempts and attempts[0] < now - FAILURE_WINDOW_SECONDS:
                    attempts.popleft()
                if attempts and len(attempts) >= MAX_FAILURES:
                    return True
        return False

    def failed(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.failures.setdefault(key, deque()).append(time.monotonic())


_memory = _Memory()


def forget_everything() -> None:
    """For tests: drop remembered credentials and failure counts."""
    with _memory.lock:
        _memory.verified.clear()
        _memory.failures.clear()


def api_actor(runtime: Runtime) -> Actor:
    """The authenticated caller of an API request; 401 with a Basic challenge otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        return _basic(runtime, value.strip())
    if scheme.lower() == "bearer" and value:
        return _bearer(runtime, value.strip())
    raise _unauthorized("Authentication required (HTTP Basic or Bearer token).")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, "AuthenticationException", {"WWW-Authenticate": 'Basic realm="kimflow"'})


def _basic(runtime: Runtime, value: str) -> Actor:
    try:
        user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise _unauthorized("Malformed Basic credentials.") from error
    key = hashlib.sha256(f"basic:{user}:{password}".encode()).hexdigest()
    actor = _memory.remembered(key)
    if actor is not None:
        return actor
    address = request.remote_addr or "-"
    if _memory.throttled(f"user:{user}", f"ip:{address}"):
        raise ApiError(429, "Too many failed logins; wait a few minutes.", "AuthenticationException")
    with runtime.command() as ctx:
        actor = accounts.authenticate(ctx, user, password)
    if actor is None:
        _memory.failed(f"user:{user}", f"ip:{address}")
        raise _unauthorized("Wrong user name or password.")
    _memory.remember(key, actor)
    return actor


def _bearer(runtime: Runtime, token: str) -> Actor:
    key = hashlib.sha256(f"bearer:{token}".encode()).hexdigest()
    actor = _memory.remembered(key)
    if actor is not None:
        return actor
    with runtime.command() as ctx:
        actor = accounts.actor_for_token(ctx, token)
    if actor is None:
        _memory.failed(f"ip:{request.remote_addr or '-'}")
        raise _unauthorized("Unknown or revoked token.")
    _memory.remember(key, actor)
    return actor


def require_role(actor: Actor, *roles: str) -> None:
    if actor.role not in roles and actor.role != "admin":
        raise ApiError(403, f"This needs one of the roles {', '.join(roles)}; you are {actor.role}.",
                       "AuthorizationException", extra={"userId": actor.id, "missingAuthorizations": []})
