"""Shared fixtures of the REST tests (no tests here): one account per role, and a Flask test client that calls
/engine-rest as one of them.

Accounts sign in with Bearer tokens (argon2 on every test would be slow); Basic auth has its own tests in
test_rest__errors.py and in the live-server tests of test_rest__camunda_clients.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.app import create_app
from service.runtime import Runtime
from tests.conftest import DATA
from workflows import accounts

API = "/engine-rest"
CAMUNDA_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")  # yyyy-MM-dd'T'HH:mm:ss.SSSZ

# Every type the issue lists, as a client sends it and as kimflow answers (Date in UTC, Json as JSON text).
TYPED_IN = {
    "name": {"value": "Ada Lovelace", "type": "String"},
    "einwilligung": {"value": True, "type": "Boolean"},
    "kinder": {"value": 3, "type": "Integer"},
    "aktenzahl": {"value": 5, "type": "Long"},
    "grosse_zahl": {"value": 9_007_199_254_740_993, "type": "Long"},
    "einkommen": {"value": 1234.5, "type": "Double"},
    "termin": {"value": "2026-01-05T09:00:00.000+0100", "type": "Date"},
    "adresse": {"value": json.dumps({"ort": "Köln", "plz": "50667", "zeilen": [1, 2]}), "type": "Json"},
    "nichts": {"value": None, "type": "Null"},
}
TYPED_OUT = {  # without "adresse": Json text may be formatted differently; compare it parsed
    "name": {"value": "Ada Lovelace", "type": "String", "valueInfo": {}},
    "einwilligung": {"value": True, "type": "Boolean", "valueInfo": {}},
    "kinder": {"value": 3, "type": "Integer", "valueInfo": {}},
    "aktenzahl": {"value": 5, "type": "Long", "valueInfo": {}},
    "grosse_zahl": {"value": 9_007_199_254_740_993, "type": "Long", "valueInfo": {}},
    "einkommen": {"value": 1234.5, "type": "Double", "valueInfo": {}},
    "termin": {"value": "2026-01-05T08:00:00.000+0000", "type": "Date", "valueInfo": {}},
    "nichts": {"value": None, "type": "Null", "valueInfo": {}},
}
ADDRESS = {"ort": "Köln", "plz": "50667", "zeilen": [1, 2]}

# user -> (role, groups)
ACCOUNTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("admin", ()),
    "erika": ("caseworker", ("fm-team",)),
    "bernd": ("caseworker", ("abh-team",)),
    "tina": ("supervisor", ("fm-team", "abh-team")),
    "paula": ("process_owner", ()),
    "worker": ("service", ()),
}


@dataclass
class Rest:
    """Calls /engine-rest as one of the ACCOUNTS (default: admin)."""

    client: FlaskClient
    tokens: dict[str, str]

    def call(self, method: str, path: str, *, user: str | None = "admin", **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers.setdefault("Authorization", f"Bearer {self.tokens[user]}")
        return self.client.open(f"{API}{path}", method=method, headers=headers, **kwargs)

    def expect(self, status: int, method: str, path: str, **kwargs: Any) -> Any:
        """Call, check the status, return the JSON body (None for an empty body)."""
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.get_data(True)}"
        return response.get_json(silent=True)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.expect(200, "GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.expect(200, "POST", path, json=body if body is not None else {}, **kwargs)

    def no_content(self, method: str, path: str, body: Any = None, **kwargs: Any) -> None:
        response = self.call(method, path, json=body if body is not None else {}, **kwargs)
        assert response.status_code == 204, f"{method} {path}: {response.status_code} {response.get_data(True)}"
        assert response.get_data() == b""

    def error(self, status: int, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Call, expect a Camunda error body with this status, return it."""
        body = self.expect(status, method, path, **kwargs)
        assert isinstance(body, dict) and set(body) >= {"type", "message"}, body
        return body

    def deploy(self, *scenarios: str, name: str = "test", user: str = "admin", status: int = 200,
               **fields: str) -> dict[str, Any]:
        """POST /deployment/create with the files of tests/data/<scenario>/ as parts named by their file names."""
        data: dict[str, Any] = {"deployment-name": name, "deployment-source": "pytest", **fields}
        files = [path for scenario in scenarios for path in sorted((DATA / scenario).iterdir()) if path.is_file()]
        data.update({path.name: (path.open("rb"), path.name) for path in files})
        try:
            return self.expect(status, "POST", "/deployment/create", user=user, data=data,
                               content_type="multipart/form-data")
        finally:
            for path in files:
                data[path.name][0].close()

    def start(self, key: str, business_key: str | None = None, user: str = "admin", **values: Any) -> dict[str, Any]:
        """Start the latest version of `key` with typed variables given as (value, type) pairs or plain values."""
        variables = {name: ({"value": v[0], "type": v[1]} if isinstance(v, tuple) else {"value": v})
                     for name, v in values.items()}
        return self.post(f"/process-definition/key/{key}/start", {"businessKey": business_key,
                                                                   "variables": variables}, user=user)  # type: ignore[no-any-return]

    def tasks(self, user: str = "admin", **query: Any) -> list[dict[str, Any]]:
        return self.get("/task", user=user, query_string=query)  # type: ignore[no-any-return]


def add_accounts(runtime: Runtime, names: Sequence[str] = tuple(ACCOUNTS)) -> dict[str, str]:
    """Create the accounts (without passwords) and a Bearer token for each."""
    tokens = {}
    with runtime.command() as ctx:
        for name in names:
            role, groups = ACCOUNTS[name]
            accounts.add_user(ctx, name, password=None, role=role, groups=groups)
            tokens[name] = accounts.create_token(ctx, name, "pytest")
    return tokens


@pytest.fixture(name="rest")
def rest_fixture(runtime: Runtime) -> Rest:
    app = create_app(runtime, KIMFLOW_MAX_LONG_POLL_SECONDS=2.0)
    return Rest(app.test_client(), add_accounts(runtime))
