"""The backend's one settings object, read from ALTA_* environment variables at start-up."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
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
    max_upload_bytes: int = Field(
        25_000_000, gt=0, description="the limit for POST /api/v1/translations instead, where a scanned PDF "
                                      "of a few pages is several megabytes")
    http_header_timeout_s: float = Field(
        10.0, gt=0, description="a connection must send a whole request head (line and headers) within this long")
    http_keep_alive_s: float = Field(5.0, gt=0, description="an idle keep-alive connection is closed after this long")
    body_read_timeout_s: float = Field(
        120.0, gt=0, description="a request body must arrive within this long (a 25 MB PDF over a slow link "
                                 "included); past it the answer is 408")
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL", description="SQLite's PRAGMA synchronous in WAL mode: NORMAL survives a crash of Alta but may "
                              "lose the last commits on power loss; FULL survives power loss too, with an fsync "
                              "per commit")
    idempotency_ttl_s: int = Field(
        86_400, ge=60, description="how long an Idempotency-Key is remembered (and its answer replayed)")
    job_heartbeat_timeout_s: float = Field(
        45.0, ge=30, description="a queued or running translation job whose heartbeat (every 10 s) is older than "
                                 "this is recovered as failed (its process died); checked at start-up and every 15 s")
    session_ttl_s: int = Field(
        8 * 3600, ge=60, description="a page sign-in lasts at most this long (a ward shift), then asks again")
    session_idle_s: int = Field(
        30 * 60, ge=60, description="a signed-in page unused for this long is signed out (a shared workstation)")
    sign_reauth_s: int = Field(
        300, ge=1, description="signing needs the password entered again within this many seconds")
    login_max_failures: int = Field(
        5, ge=1, description="wrong passwords in a row that lock a user out for login_lockout_s")
    login_lockout_s: int = Field(900, ge=1, description="how long a user stays locked after login_max_failures")
    session_cookie_secure: bool | None = Field(
        None, description="the session cookie's Secure flag; default: on outside development (HTTPS only)")
    engines: list[str] | None = Field(
        None, description='engine order for drafts, first healthy wins; default: ["onnx", "template", '
                          '"apertium"] when the model catalog names a bundle, else ["template", "apertium"]')
    cors_origins: list[str] = Field([], description="browser origins allowed to call the API")
    log_level: str = "INFO"
    db_pool_size: int = 10
    models_dir: Path = Field(Path("models"), description="the model catalog (catalog.json) and the bundles it names")
    webapp_dir: Path = Field(Path("webapp/dist"), description="the built clinician UI served at / (npm run build)")
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
    onnx_constrain: bool = Field(
        True, description="epicrisis drafts follow their record's grammar (xgrammar token masks): only the record's "
                          "identity, codes, drugs, doses and dates can be written; needs the constrain extra")
    onnx_constrain_narrative: Literal["record", "free"] = Field(
        "record", description="under the grammar, the evolution text: the record's own (record) or the model's "
                              "words without digits (free, which the review may then flag)")
    onnx_constrain_jump_forward: bool = Field(
        True, description="under the grammar, text it forces is fed to the model in one run (fewer, faster "
                          "steps); false: every token is the model's masked pick, as in the browser")
    vllm_base_urls: list[str] = Field(
        [], description='vLLM OpenAI-compatible servers (JSON list, e.g. ["http://gpu-1:8000"]); requests are '
                        "spread over the healthy ones")
    vllm_api_key: SecretStr | None = Field(None, description="sent as Bearer token (the servers' --api-key)")
    vllm_models: dict[str, str] = Field(
        {"epicrisis": "epicrisis", "translation": "translation"},
        description="task -> served model name (the --lora-modules name that picks the task's adapter)")
    vllm_connect_timeout_s: float = Field(3.0, gt=0, description="longest wait to open a connection")
    vllm_first_token_timeout_s: float = Field(
        30.0, gt=0, description="streams: longest wait for the first event (queueing plus prefill)")
    vllm_total_timeout_s: float = Field(300.0, gt=0, description="longest time for a whole answer")
    vllm_retries: int = Field(
        2, ge=0, description="retries of a request no server has started on (connect errors, 502/503/429)")
    vllm_retry_backoff_s: float = Field(0.2, ge=0, description="first retry delay; doubled per retry, with jitter")
    vllm_breaker_failures: int = Field(
        3, ge=1, description="consecutive failures of a server that open its circuit (no requests sent to it)")
    vllm_breaker_cooldown_s: float = Field(
        30.0, gt=0, description="an open circuit lets one probe request through after this long")
    vllm_health_ttl_s: float = Field(5.0, ge=0, description="how long a health probe's answer is reused")
    vllm_max_in_flight: int = Field(
        64, ge=1, description="requests open at once per server; more get a busy answer (fallback)")
    vllm_max_new_tokens: int = Field(1536, ge=1, description="default max_tokens of a request")
    vllm_temperature: float = Field(0.0, ge=0, description="default temperature; 0 = greedy")
    vllm_constrain: bool = Field(
        True, description="epicrisis requests carry their record's grammar in structured_outputs (vLLM >= 0.12)")
    max_inflight_generations: int = Field(
        32, ge=1, description="generation requests served at once (every engine together); more wait in the queue")
    max_queued_generations: int = Field(
        128, ge=0, description="generation requests that may wait for a slot; past that 503 with Retry-After")
    queue_timeout_s: float = Field(30.0, gt=0, description="longest wait for a slot before a 503 with Retry-After")
    rate_limit_per_minute: int = Field(
        0, ge=0, description="generation requests per minute per API key (bursts up to a minute's worth); 0 = off")
    metrics_from_loopback: bool = Field(
        True, description="serve /metrics without a key to clients on this host that come through no proxy")
    translation_sync_max_chars: int = Field(
        4000, ge=0, description="texts up to this many characters (and PDFs with no scanned page) are translated "
                                "in the request (201); larger ones become a job (202)")
    translation_max_chars: int = Field(200_000, ge=1, description="longest text (or PDF text) one request may send")
    translation_max_pages: int = Field(100, ge=1, description="most pages of one PDF")
    translation_chunk_tokens: int = Field(
        384, ge=16, description="source tokens per model call; paragraphs are packed up to this")
    translation_max_new_tokens: int = Field(
        1024, ge=1, description="longest answer per chunk; an answer cut there is retried, then fails")
    translation_retry_temperature: float = Field(
        0.3, ge=0, description="sampling temperature of the one retry of a chunk whose placeholders came back wrong")
    translation_cache: bool = Field(True, description="reuse translations of identical de-identified chunks")
    translation_job_concurrency: int = Field(1, ge=1, description="translation jobs running at once per process")
    translation_job_busy_wait_s: float = Field(
        600.0, ge=0, description="how long a job waits for a busy engine before failing")
    translation_job_stall_s: float = Field(
        900.0, gt=0, description="a queued or running job without progress for this long is reported failed")
    apertium_mode: str = Field("spa-eng", description="Apertium translation direction (apertium -l lists them)")
    apertium_timeout_s: float = Field(60.0, gt=0, description="longest Apertium run for one chunk")
    apertium_max_concurrency: int = Field(4, ge=1, description="Apertium processes at once")
    translation_ocr_lang: str = Field("spa", description="Tesseract language of scanned pages (tesseract-ocr-spa)")
    translation_ocr_dpi: int = Field(300, ge=72, le=600, description="resolution scanned pages are rendered at")
    translation_font_dir: Path = Field(
        Path("/usr/share/fonts/truetype/dejavu"),
        description="folder with DejaVuSans.ttf and DejaVuSans-Bold.ttf for PDF output (fonts-dejavu-core)")

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
        # Apertium last: it only translates, below any model that does (it is the floor, not the goal).
        return ["onnx", "template", "apertium"] if has_model else ["template", "apertium"]

    @property
    def cookie_secure(self) -> bool:
        return self.session_cookie_secure if self.session_cookie_secure is not None else self.environment != "development"

    @property
    def dev_user_file(self) -> Path:
        return self.data_dir / "dev-user"

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
