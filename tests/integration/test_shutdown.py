"""Shutting the app down releases what its engines hold: worker threads and HTTP connection pools."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from backend.app import create_app
from backend.core.config import Settings
from backend.engines.vllm import VllmEngine


def test_shutdown_closes_every_engine(tmp_path: Path, monkeypatch) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, engines=["vllm", "template"],
                        vllm_base_urls=["http://127.0.0.1:9"])
    app = create_app(settings)
    closed: list[str] = []
    for engine in app.state.engines:
        original = engine.aclose

        async def spy(original=original, name=engine.name) -> None:
            closed.append(name)
            await original()

        monkeypatch.setattr(engine, "aclose", spy)
    vllm = app.state.engines.get("vllm")
    assert isinstance(vllm, VllmEngine)
    with TestClient(app) as client:
        client.get("/readyz")  # probes the (unreachable) vLLM server: its connection pool opens
        assert vllm._http is not None
    assert closed == ["vllm", "template"]
    assert vllm._http is None
