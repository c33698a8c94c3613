"""Backend fixtures: a migrated SQLite file per test, the app, API keys, and a live server."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from backend.app import create_app
from backend.core.config import Settings
from backend.db import migrate
from backend.db.session import make_engine, make_sessionmaker
from backend.services import apikeys
from clinical.contract import example_records
from tests.support import LiveServer


def _fresh_postgres() -> str:
    url = os.environ.get("ALTA_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("the postgres tests need ALTA_TEST_POSTGRES_URL; run them with `make test-postgres`")
    engine = create_engine(url)
    with engine.begin() as conn:  # an empty schema for every test
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Every API test runs on SQLite, and on PostgreSQL under `make test-postgres`."""
    url = f"sqlite:///{tmp_path / 'alta.db'}" if request.param == "sqlite" else _fresh_postgres()
    s = Settings(environment="test", data_dir=tmp_path, database_url=url, engines=["template"])
    migrate.upgrade(s.resolved_database_url)
    return s


@pytest.fixture
def sessions(settings: Settings):
    engine = make_engine(settings.resolved_database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def make_key(sessions):
    def make(name: str = "ehr", scopes: tuple[str, ...] = ("admin",)) -> dict[str, str]:
        with sessions() as session:
            return {"Authorization": f"Bearer {apikeys.create_key(session, name, list(scopes))}"}
    return make


@pytest.fixture
def auth(make_key) -> dict[str, str]:
    return make_key()


DOCTOR_PASSWORD = "clave-de-la-doctora"


@pytest.fixture
def doctor(sessions) -> dict[str, str]:
    """A médico (Dra. Pérez) an EHR key signs for: the sign body's ``username`` and ``password``."""
    from backend.services import users

    with sessions() as session:
        users.create_user(session, username="perez", name="Dra. Pérez", role="medico", password=DOCTOR_PASSWORD,
                          registry_type="RNPI", registry_number="123456")
    return {"username": "perez", "password": DOCTOR_PASSWORD}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def record() -> dict:
    return copy.deepcopy(example_records()["neumonia_chile"])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, {"ALTA_ENGINES": "[\"template\"]"})
    server.cli("migrate")
    server.start()
    yield server
    server.stop()
