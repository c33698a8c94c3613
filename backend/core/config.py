"""The backend's one settings object, read from ALTA_* environment variables at start-up."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALTA_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = Field(
        "development", description="production refuses unsafe values (wildcard CORS, in-memory DB)"
    )
    data_dir: Path = Field(Path("data"), description="where the SQLite file and the dev API key live")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/alta.db. PostgreSQL: postgresql+psycopg://..."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(1_000_000, gt=0, description="larger request bodies get 413")
    engines: list[str] | None = Field(
        None, description='engine order for drafts, first healthy wins; default: ["onnx", "template"] when '
                          'the model catalog names a bundle, else ["template"]')
    cors_origins: list[str] = Field([], description="browser origins allowed to call the API")
    log_level: str = "INFO"
    db_pool_size: int = 10
    models_dir: Path = Field(Path("models"), description="the model catalog (catalog.json) and the bundles it names")
    onnx_model: str | None = Field(None, description="catalog model the onnx engine serves; default: the catalog's default")
    onnx_bundle: Path | None = Field(None, description="serve this bundle directory instead of a catalog entry")
    onnx_dtype: Literal["fp32", "fp16", "q4", "q4f16", "q8"] | None = Field(
        None, description="graph to run; default: the catalog entry's dtype, else the bundle's default")
    onnx_max_concurrency: int = Field(2, ge=1, description="generations at once; more get a busy answer (fallback)")
    onnx_threads: int = Field(0, ge=0, description="ONNX Runtime intra-op threads (0: one per core)")
    onnx_max_new_tokens: int = Field(1536, ge=1, description="longest draft, in tokens")
    onnx_temperature: float = Field(0.0, ge=0, description="0 = greedy, the same draft for the same record")
    onnx_top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling cut-off when temperature > 0")
    onnx_prefill_chunk: int = Field(
        0, ge=0, description="prompt tokens per prefill run (0: all at once, as Transformers.js); bounds memory")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'alta.db'}"

    @property
    def engine_order(self) -> list[str]:
        """The configured engine order, or the default: the shipped model first, the template behind it."""
        if self.engines is not None:
            return self.engines
        from backend.engines.bundle import load_catalog

        has_model = (self.models_dir / "catalog.json").exists() and bool(load_catalog(self.models_dir)[0])
        return ["onnx", "template"] if has_model else ["template"]

    @property
    def dev_key_file(self) -> Path:
        return self.data_dir / "dev-api-key"

    @model_validator(mode="after")
    def _safe_in_production(self) -> Settings:
        if self.environment == "production":
            if "*" in self.cors_origins:
                raise ValueError("ALTA_CORS_ORIGINS may not contain '*' in production; list the origins")
            if self.database_url and ":memory:" in self.database_url:
                raise ValueError("ALTA_DATABASE_URL is in-memory in production; documents would be lost")
        return self


@cache
def get_settings() -> Settings:
    return Settings()
