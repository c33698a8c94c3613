"""Property-based tests of the whole API from its own OpenAPI schema (schemathesis).

Every operation gets requests generated from the schema (valid and invalid bodies, paths, query
strings) against the real app on a real SQLite file, with an admin key: no answer may be a 5xx,
and every answer must match what the schema says (status, content type, headers, body schema:
timestamps are date-times with an offset). Bounded and repeatable for CI: a fixed number of
examples per operation, no deadline (2 shared cores), and a fixed seed so the same examples run
every time: ``make test`` runs 25 per operation and mode (about a minute), ``make test-slow`` 250
with another seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.app import create_app
from backend.core.config import Settings
from backend.db import migrate
from backend.db.session import make_engine, make_sessionmaker
from backend.services import apikeys

MAX_EXAMPLES = 25
SEED = 20
SLOW_EXAMPLES, SLOW_SEED = 250, 2020


def no_server_error(ctx, response, case) -> bool | None:
    """No 5xx, except a 503 with Retry-After: a temporary refusal the schema documents (no engine
    for the task in this configuration, a full queue), not a crash."""
    if response.status_code == 503 and response.headers.get("retry-after"):
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [no_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def _app_and_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str]]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    s = Settings(environment="test", data_dir=tmp, engines=["template"], models_dir=tmp / "models")
    migrate.upgrade(s.resolved_database_url)
    engine = make_engine(s.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        key = apikeys.create_key(session, "schemathesis", ["admin"])
    engine.dispose()
    yield create_app(s), key


def _failures(schema, operation, mode: GenerationMode, headers: dict[str, str], examples: int = MAX_EXAMPLES,
              fixed_seed: int = SEED) -> list[str]:
    """Run ``examples`` generated requests against one operation; the failures, described."""

    @seed(fixed_seed)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # nothing to vary (no parameters, no body): no negative case exists
        return []
    except (FailureGroup, Exception) as exc:  # every operation's failures are collected and reported together
        return [f"{operation.label} ({mode.value}): {exc}"]
    return []


def _conforms(app_and_key, mode: GenerationMode, examples: int, fixed_seed: int) -> None:
    app, key = app_and_key
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures = []
    for operation in operations:
        failures += _failures(schema, operation, mode, {"Authorization": f"Bearer {key}"}, examples, fixed_seed)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_api_conforms_to_its_schema(_app_and_key, mode: GenerationMode) -> None:
    _conforms(_app_and_key, mode, MAX_EXAMPLES, SEED)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_api_conforms_to_its_schema_at_length(_app_and_key, mode: GenerationMode) -> None:
    """The same checks with ten times the examples and another seed (make test-slow)."""
    _conforms(_app_and_key, mode, SLOW_EXAMPLES, SLOW_SEED)
