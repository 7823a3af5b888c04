"""Property-based API tests: schemathesis generates requests (valid and invalid) from the
OpenAPI schema of each service and sends them, as the bootstrap admin, to the real app on a
real database seeded with data, so that many of them reach real code paths.

The guarantee: no generated request gets a 5xx, and every error answer has the JSON body
`{"code", "message", ...}` (docs/api.md, "Errors").

rules_service runs on PostgreSQL (a database of this module's own), with the example
`returns` workbook uploaded, approved by a second approver key, published and fed the example
events; action_service (worker=False) runs on SQLite with a few actions in every state an
operator acts on. Generation is bounded (`MAX_EXAMPLES` per operation) and derandomized, so a
run is the same run every time.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from action_service.app import create_app as create_action_app
from rules_service.app import create_app as create_rules_app
from runbook.settings import Settings
from tests.api.conftest import ADMIN_KEY, BASE_URL, XLSX, Api

MAX_EXAMPLES = 50

HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)


# Uploads are generated as .xlsx too (arbitrary bytes: the workbook parser must answer 4xx).
schemathesis.serializer.alias(XLSX, "application/octet-stream")


def _schema(app: Any) -> Any:
    return schemathesis.openapi.from_dict(app.openapi())


# The schemas come from apps that are never started (no database is touched to collect).
_COLLECT = Settings(bootstrap_admin_key=ADMIN_KEY, log_level="WARNING")
rules_schema = _schema(create_rules_app(_COLLECT))
actions_schema = _schema(create_action_app(_COLLECT, worker=False))


def _steer(case: Any, known: dict[str, list[Any]]) -> None:
    """Half of the cases (chosen by a hash of the case, so deterministically) get real path
    and query values: the seeded ruleset, versions, runs, keys and actions."""
    seed = zlib.crc32(repr((case.method, case.path, case.path_parameters, case.query)).encode())
    if seed % 2:
        return
    for params in (case.path_parameters, case.query):
        if not isinstance(params, dict):
            continue
        for name in list(params):
            values = known.get(name)
            if values:
                params[name] = values[seed // 2 % len(values)]


def _check(case: Any, response: Any) -> None:
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400 and case.method.upper() != "HEAD":
        try:
            body = response.json()
        except ValueError:
            pytest.fail(f"{case.method} {case.formatted_path} answered {response.status_code} "
                        f"without a JSON body: {response.text[:200]!r}")
        assert isinstance(body, dict) and isinstance(body.get("code"), str) \
            and isinstance(body.get("message"), str), (
            f"{case.method} {case.formatted_path} answered {response.status_code} with {body!r}")


def _call(api: Api, case: Any) -> None:
    _steer(case, api.known)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    response = case.call(session=api.client, base_url=BASE_URL, headers=headers)
    _check(case, response)


@rules_schema.parametrize()
@HYPOTHESIS
def test_rules_service(case: Any, rules_api: Api) -> None:
    _call(rules_api, case)


@actions_schema.parametrize()
@HYPOTHESIS
def test_action_service(case: Any, actions_api: Api) -> None:
    _call(actions_api, case)
