"""Local users, groups and API tokens. Passwords are argon2 hashes; tokens are stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
import tomllib
import uuid
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from workflows import audit, schema
from workflows.context import Actor, Ctx
from workflows.errors import InvalidInputError, NotFoundError

ROLES = ("caseworker", "supervisor", "process_owner", "admin", "service")
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def ensure_group(ctx: Ctx, group_id: str, name: str | None = None, domain: str | None = None) -> schema.Group:
    group = ctx.session.get(schema.Group, group_id)
    if group is None:
        group = schema.Group(id=group_id, name=name or group_id, domain=domain)
        ctx.session.add(group)
    elif name or domain:
        group.name, group.domain = name or group.name, domain or group.domain
    return group


def ensure_configured_groups(ctx: Ctx, config_dir: str | Path) -> list[str]:
    """Create or update the groups of config/groups.toml with their names and domains; returns their ids."""
    path = Path(config_dir) / "groups.toml"
    configured = tomllib.loads(path.read_text(encoding="utf-8")).get("groups", {}) if path.exists() else {}
    for group_id, values in configured.items():
        ensure_group(ctx, group_id, values.get("name"), values.get("domain"))
    ctx.session.flush()
    return list(configured)


def add_user(ctx: Ctx, user_id: str, *, password: str | None, role: str, groups: Sequence[str] = (),
             display_name: str | None = None, email: str | None = None) -> schema.User:
    """Create the user, or update role, groups and password of an existing one."""
    if role not in ROLES:
        raise InvalidInputError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    if not user_id or not user_id.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise InvalidInputError("A user name may contain letters, digits, '.', '-' and '_'.")
    if password is not None and len(password) < 8:
        raise InvalidInputError("A password needs at least 8 characters.")
    user = ctx.session.get(schema.User, user_id)
    if user is None:
        user = schema.User(id=user_id, role=role, created_at=ctx.now(), active=True)
        ctx.session.add(user)
    user.role, user.display_name, user.email = role, display_name or user.display_name or user_id, email or user.email
    if password is not None:
        user.password_hash = hash_password(password)
    _set_groups(ctx, user_id, groups)
    audit.record(ctx, "user_saved", details={"user": user_id, "role": role, "groups": sorted(groups)})
    ctx.session.flush()
    return user


def _set_groups(ctx: Ctx, user_id: str, groups: Sequence[str]) -> None:
    for group_id in groups:
        ensure_group(ctx, group_id)
    ctx.session.flush()
    ctx.session.execute(sa.delete(schema.Membership).where(schema.Membership.user_id == user_id))
    if groups:
        ctx.session.execute(sa.insert(schema.Membership), [{"user_id": user_id, "group_id": g}
                                                           for g in dict.fromkeys(groups)])


def groups_of(ctx: Ctx, user_id: str) -> frozenset[str]:
    query = sa.select(schema.Membership.group_id).where(schema.Membership.user_id == user_id)
    return frozenset(ctx.session.scalars(query))


def actor_for(ctx: Ctx, user_id: str) -> Actor | None:
    user = ctx.session.get(schema.User, user_id)
    if user is None or not user.active:
        return None
    return Actor(user.id, user.role, groups_of(ctx, user.id))


def authenticate(ctx: Ctx, user_id: str, password: str) -> Actor | None:
    """Check a password; None for unknown users, wrong passwords and deactivated accounts alike."""
    user = ctx.session.get(schema.User, user_id)
    if user is None or not user.active or not user.password_hash:
        _hasher.hash(password)  # same cost whether or not the user exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return Actor(user.id, user.role, groups_of(ctx, user.id))


def create_token(ctx: Ctx, user_id: str, name: str) -> str:
    """A new API token for a (technical) user; only its digest is stored, the token is shown once."""
    if ctx.session.get(schema.User, user_id) is None:
        raise NotFoundError(f"User {user_id} does not exist.")
    token = "kim_" + secrets.token_urlsafe(32)
    ctx.session.add(schema.ApiToken(id=str(uuid.uuid4()), user_id=user_id, name=name, token_hash=_digest(token),
                                    created_at=ctx.now(), last_used_at=None))
    audit.record(ctx, "token_created", details={"user": user_id, "name": name})
    ctx.session.flush()
    return token


def actor_for_token(ctx: Ctx, token: str) -> Actor | None:
    row = ctx.session.scalar(sa.select(schema.ApiToken).where(schema.ApiToken.token_hash == _digest(token)))
    if row is None:
        return None
    row.last_used_at = ctx.now()
    return actor_for(ctx, row.user_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def list_users(ctx: Ctx) -> list[schema.User]:
    return list(ctx.session.scalars(sa.select(schema.User).order_by(schema.User.id)))
