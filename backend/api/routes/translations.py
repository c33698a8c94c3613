"""POST /api/v1/translations and GET /api/v1/translations/{id}: Spanish text or PDF in, English out.

Small inputs are translated in the request (201); large texts and PDFs with scanned pages become
a job (202) that the client polls. The source's PHI never reaches a model (see clinical.translate).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from backend.api.deps import GenerateActor, ReadActor, RegistryDep, SessionDep, release
from backend.api.schemas import Provenance
from backend.core.config import Settings
from backend.db.models import TranslationJob
from backend.services import translations as svc
from backend.services.admission import AdmissionDep
from backend.services.translation_jobs import JobInput, JobRunner, run_job
from clinical.deid import deidentify
from clinical.translate.layout import join_pages
from clinical.translate.ocr import OcrUnavailable, check_ocr
from clinical.translate.pdf_reader import PdfError, PdfPage, read_pdf
from clinical.translate.pdf_writer import FontMissing, render_pdf

Variant = Literal["es-MX", "es-CL", "es-ES"]
EXAMPLE_TEXT = ("EPICRISIS\n\nNombre: Ernesto Rivera Bueno. Paciente de 70 años con HTA y DM2 que ingresa por "
                "neumonía adquirida en la comunidad. Recibió paracetamol 1 g cada 8 horas.")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    runner: JobRunner | None = getattr(app.state, "translation_jobs", None)
    if runner is not None:
        await runner.shutdown()


router = APIRouter(prefix="/api/v1/translations", tags=["translations"], lifespan=_lifespan)


class TranslationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": EXAMPLE_TEXT,
                                                                              "source_variant": "es-CL"}]})

    text: str = Field(min_length=1, description="Spanish clinical text; paragraphs separated by blank lines")
    source_variant: Variant | None = Field(
        None, description="the Spanish it is written in; recorded with the translation (prompt contract v1 "
                          "translates every variant alike)")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text is only whitespace; send the document's text")
        return text


class SourceOut(BaseModel):
    kind: Literal["text", "pdf"]
    variant: Variant | None
    chars: int
    pages: int | None
    ocr_pages: int


class ProgressOut(BaseModel):
    chunks_done: int
    chunks_total: int
    chunks_cached: int


class ErrorOut(BaseModel):
    code: str
    detail: str


class TranslationOut(BaseModel):
    """A translation: its status, then its text and who wrote it (or why it failed)."""

    id: str
    status: Literal["queued", "running", "done", "failed"]
    source: SourceOut
    progress: ProgressOut
    text: str | None = Field(None, description="the English translation, PHI restored (when done)")
    term_accuracy: float | None = Field(
        None, description="share of the source's glossary terms rendered with their English equivalent")
    provenance: Provenance | None = None
    error: ErrorOut | None = None
    links: dict[str, str]
    created_at: dt.datetime
    finished_at: dt.datetime | None = None

    @classmethod
    def of(cls, job: TranslationJob) -> TranslationOut:
        url = f"{router.prefix}/{job.id}"
        provenance = None
        if job.status == "done" and job.engine:
            provenance = Provenance(engine=job.engine, model=job.model or "", model_version=job.model_version or "",
                                    latency_ms=round(job.latency_ms or 0.0, 3), fallbacks=json.loads(job.fallbacks_json))
        return cls(
            id=job.id, status=job.status,  # type: ignore[arg-type]
            source=SourceOut(kind=job.source_kind, variant=job.source_variant, chars=job.source_chars,  # type: ignore[arg-type]
                             pages=job.pages, ocr_pages=job.ocr_pages),
            progress=ProgressOut(chunks_done=job.chunks_done, chunks_total=job.chunks_total,
                                 chunks_cached=job.chunks_cached),
            text=job.result_text if job.status == "done" else None, term_accuracy=job.term_accuracy,
            provenance=provenance,
            error=ErrorOut(code=job.error_code, detail=job.error_detail or "") if job.error_code else None,
            links={"self": url, "text": f"{url}?format=text", "pdf": f"{url}?format=pdf"},
            created_at=job.created_at, finished_at=job.finished_at)


def _invalid(field: str, kind: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": kind}])


@dataclass(frozen=True)
class Submission:
    """A validated request: its source's description, and the text or PDF held in memory."""

    source: svc.Source
    text: str
    pdf: bytes | None = None
    pages: tuple[PdfPage, ...] = ()

    @property
    def needs_ocr(self) -> bool:
        return any(p.source == "pending" for p in self.pages)


async def _json_submission(request: Request, settings: Settings) -> Submission:
    try:
        body = TranslationIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    if len(body.text) > settings.translation_max_chars:
        raise _invalid("text", "too_long", f"text has {len(body.text)} characters; at most "
                       f"{settings.translation_max_chars} per request (ALTA_TRANSLATION_MAX_CHARS): split the document")
    return Submission(svc.Source("text", body.source_variant, len(body.text)), body.text)


async def _pdf_submission(request: Request, settings: Settings) -> Submission:
    # Starlette keeps an upload in memory up to 1 MB and spools a larger one to an unnamed temporary
    # file; closing the form at once deletes it, so the PDF lives on in this request's memory only.
    async with request.form(max_files=1, max_fields=4) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _invalid("file", "missing", "send the PDF as the multipart field 'file'")
        variant = form.get("source_variant") or None
        if variant is not None and variant not in ("es-MX", "es-CL", "es-ES"):
            raise _invalid("source_variant", "literal_error", "source_variant must be es-MX, es-CL or es-ES")
        data = await upload.read()
    try:
        pages = tuple(await asyncio.to_thread(read_pdf, data, settings.translation_max_pages))
    except PdfError as exc:
        raise _invalid("file", "invalid_pdf", str(exc)) from None
    text = join_pages([p.text for p in pages])
    source = svc.Source("pdf", variant, len(text), len(pages))  # type: ignore[arg-type]
    submission = Submission(source, text, data, pages)
    if not submission.needs_ocr and not text.strip():
        raise _invalid("file", "no_text", "the PDF has no text to translate")
    if len(text) > settings.translation_max_chars:
        raise _invalid("file", "too_long", f"the PDF's text has {len(text)} characters; at most "
                       f"{settings.translation_max_chars} per request (ALTA_TRANSLATION_MAX_CHARS): split the document")
    if submission.needs_ocr:
        try:
            check_ocr(settings.translation_ocr_lang)
        except OcrUnavailable as exc:
            raise svc.OcrMissing(f"the PDF has scanned pages and this server cannot read them: {exc}") from None
    return submission


async def _submission(request: Request, settings: Settings) -> Submission:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return await _json_submission(request, settings)
    if content_type == "multipart/form-data":
        return await _pdf_submission(request, settings)
    raise svc.UnsupportedMediaType(
        "send JSON ({\"text\": ..., \"source_variant\": ...}) or multipart/form-data with a PDF in the field 'file'")


REQUEST_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": TranslationIn.model_json_schema(),
                         "example": {"text": EXAMPLE_TEXT, "source_variant": "es-CL"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "a PDF (text layer, or scanned pages: OCR)"},
        "source_variant": {"type": "string", "enum": ["es-MX", "es-CL", "es-ES"]}}}},
}}}


def _runner(request: Request) -> JobRunner:
    runner = getattr(request.app.state, "translation_jobs", None)
    if runner is None:
        runner = request.app.state.translation_jobs = JobRunner(request.app.state.settings.translation_job_concurrency)
    return runner


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TranslationOut, openapi_extra=REQUEST_BODY,
             summary="Translate a Spanish clinical text or PDF into English",
             responses={202: {"model": TranslationOut, "description": "a job: poll the Location URL until done"},
                        413: {"description": "body over ALTA_MAX_BODY_BYTES"},
                        415: {"description": "neither JSON nor multipart"},
                        502: {"description": "the model's answers lost placeholders (nothing returned)"},
                        503: {"description": "no engine does translation (the message says how to add one), "
                                             "or every engine is busy"}})
async def create_translation(request: Request, response: Response, registry: RegistryDep, actor: GenerateActor,
                             admission: AdmissionDep) -> TranslationOut:
    """De-identifies the document, translates it chunk by chunk with the engines that do translation
    (in the configured order), checks every placeholder came back once and restores the PHI.

    Texts up to ``ALTA_TRANSLATION_SYNC_MAX_CHARS`` characters and PDFs with a text layer on every
    page are answered at once (201). Larger texts and PDFs with scanned pages (Tesseract OCR) are
    jobs: 202 with the job's URL in ``Location``; GET it until ``status`` is ``done`` or ``failed``.
    """
    settings: Settings = request.app.state.settings
    submission = await _submission(request, settings)
    engines = svc.translation_engines(registry)
    await admission.enter(actor.name)
    sessions = request.app.state.sessionmaker
    location = f"{router.prefix}/{{}}"
    if not submission.needs_ocr and len(submission.text) <= settings.translation_sync_max_chars:
        deid = await asyncio.to_thread(deidentify, submission.text)
        outcome = await svc.translate_with_engines(deid, engines, settings, sessions)
        with sessions() as session:
            job = await run_in_threadpool(svc.store_translation, session, submission.source, outcome, actor=actor)
            out = TranslationOut.of(job)
        response.headers["X-Alta-Engine"] = outcome.engine.name
    else:
        with sessions() as session:
            job = await run_in_threadpool(svc.create_job, session, submission.source, actor=actor)
            out = TranslationOut.of(job)
        source = JobInput(text=None if submission.pdf else submission.text, pdf=submission.pdf, pages=submission.pages)
        _runner(request).submit(
            job.id, lambda: run_job(job.id, source, registry=registry, settings=settings, sessions=sessions),
            lambda: asyncio.to_thread(svc.update_job, sessions, job.id))
        response.status_code = status.HTTP_202_ACCEPTED
    response.headers["Location"] = location.format(out.id)
    return out


TranslationId = Annotated[str, Path(min_length=1, max_length=36, description="the translation's id")]


@router.get("/{translation_id}", response_model=TranslationOut, summary="A translation's status, text or PDF",
            responses={200: {"content": {"text/plain": {}, "application/pdf": {}},
                             "description": "JSON (default), or with ?format=text / ?format=pdf the translation"},
                       409: {"description": "format=text/pdf of a translation not done (or failed)"}})
def read_translation(translation_id: TranslationId, request: Request, session: SessionDep, actor: ReadActor,
                     format: Annotated[Literal["json", "text", "pdf"], Query(
                         description="json: status and text; text: the translation as text/plain; pdf: as a PDF")] = "json",
                     ) -> Response | TranslationOut:
    """A job's status and progress, or the finished translation with its provenance.

    The PDF keeps the source's page order (each source page starts a page) and its headings."""
    settings: Settings = request.app.state.settings
    runner = getattr(request.app.state, "translation_jobs", None)
    job = svc.get_job(session, translation_id, actor=actor, stall_s=settings.translation_job_stall_s,
                      alive=runner.alive if runner else set())
    release(session)  # the job is loaded; rendering a PDF must not hold a pooled connection
    headers = {"Cache-Control": "no-store"}
    if format == "json":
        out = TranslationOut.of(job)
        return Response(out.model_dump_json(), media_type="application/json", headers=headers)
    if job.status != "done" or job.result_text is None:
        raise svc.TranslationNotReady(f"translation {job.id} is {job.status}"
                                      + (f" ({job.error_code}: {job.error_detail})" if job.error_code else
                                         "; poll GET " + f"{router.prefix}/{job.id} until it is done"))
    if format == "text":
        return Response(job.result_text, media_type="text/plain; charset=utf-8", headers=headers)
    footer = (f"Machine translation from Spanish by Alta ({job.engine}: {job.model} {job.model_version}); "
              "a clinician must review it before clinical use.")
    try:
        pdf = render_pdf(job.result_text, footer=footer, font_dir=settings.translation_font_dir)
    except FontMissing as exc:
        raise svc.PdfOutputUnavailable(str(exc)) from None
    return Response(pdf, media_type="application/pdf", headers={
        **headers, "Content-Disposition": f'attachment; filename="translation-{job.id}.pdf"'})
