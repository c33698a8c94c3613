"""POST /api/v1/translations and GET /api/v1/translations/{id}: Spanish text or PDF in, English out.

Small inputs are translated in the request (201); large texts and PDFs with scanned pages become
a job (202) that the client polls. The source's PHI never reaches a model (see clinical.translate).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from backend.api.deps import GenerateActor, ReadActor, RegistryDep, SessionDep, release
from backend.api.schemas import Provenance, UtcDatetime
from backend.core.config import Settings
from backend.db.models import TranslationJob
from backend.services.admission import AdmissionDep
from backend.services.errors import (
    InvalidDocument,
    PdfOutputUnavailable,
    TranslationNotReady,
    UnsupportedMediaType,
)
from backend.services.translation import Source, Submission, TranslationService
from clinical.translate.layout import join_pages
from clinical.translate.pdf_reader import PdfError, read_pdf
from clinical.translate.pdf_writer import FontMissing, render_pdf

Variant = Literal["es-MX", "es-CL", "es-ES"]
EXAMPLE_TEXT = ("EPICRISIS\n\nNombre: Ernesto Rivera Bueno. Paciente de 70 años con HTA y DM2 que ingresa por "
                "neumonía adquirida en la comunidad. Recibió paracetamol 1 g cada 8 horas.")


router = APIRouter(prefix="/api/v1/translations", tags=["translations"])


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
    created_at: UtcDatetime
    finished_at: UtcDatetime | None = None

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


async def _json_submission(request: Request) -> Submission:
    try:
        body = TranslationIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    return Submission(Source("text", body.source_variant, len(body.text)), body.text)


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
    return Submission(Source("pdf", variant, len(text), len(pages)), text, data, pages)  # type: ignore[arg-type]


async def _submission(request: Request, settings: Settings) -> Submission:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return await _json_submission(request)
    if content_type == "multipart/form-data":
        return await _pdf_submission(request, settings)
    raise UnsupportedMediaType(
        "send JSON ({\"text\": ..., \"source_variant\": ...}) or multipart/form-data with a PDF in the field 'file'")


def translation_service(request: Request, registry: RegistryDep) -> TranslationService:
    """The service over this app's engines, settings, database and job runner (built at start-up)."""
    state = request.app.state
    return TranslationService(registry, state.settings, state.sessionmaker, state.translation_jobs)


ServiceDep = Annotated[TranslationService, Depends(translation_service)]


REQUEST_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": TranslationIn.model_json_schema(),
                         "example": {"text": EXAMPLE_TEXT, "source_variant": "es-CL"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "a PDF (text layer, or scanned pages: OCR)"},
        "source_variant": {"type": "string", "enum": ["es-MX", "es-CL", "es-ES"]}}}},
}}}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TranslationOut, openapi_extra=REQUEST_BODY,
             summary="Translate a Spanish clinical text or PDF into English",
             responses={202: {"model": TranslationOut, "description": "a job: poll the Location URL until done"},
                        413: {"description": "body over ALTA_MAX_BODY_BYTES"},
                        415: {"description": "neither JSON nor multipart"},
                        502: {"description": "the model's answers lost placeholders (nothing returned)"},
                        503: {"description": "no engine does translation (the message says how to add one), "
                                             "or every engine is busy"}})
async def create_translation(request: Request, response: Response, service: ServiceDep, actor: GenerateActor,
                             admission: AdmissionDep) -> TranslationOut:
    """De-identifies the document, translates it chunk by chunk with the engines that do translation
    (in the configured order; Apertium, rule-based, is the floor), checks every placeholder came back
    once and restores the PHI.

    Texts up to ``ALTA_TRANSLATION_SYNC_MAX_CHARS`` characters and PDFs with a text layer on every
    page are answered at once (201). Larger texts and PDFs with scanned pages (Tesseract OCR) are
    jobs: 202 with the job's URL in ``Location``; GET it until ``status`` is ``done`` or ``failed``.
    """
    submission = await _submission(request, service.settings)
    try:
        submitted = await service.submit(submission, actor, admit=lambda: admission.enter(actor.name))
    except InvalidDocument as exc:
        raise _invalid(exc.field, exc.kind, str(exc)) from None
    out = TranslationOut.of(submitted.job)
    if submitted.answered_now:
        response.headers["X-Alta-Engine"] = submitted.engine or ""
    else:
        response.status_code = status.HTTP_202_ACCEPTED
    response.headers["Location"] = f"{router.prefix}/{out.id}"
    return out


TranslationId = Annotated[str, Path(min_length=1, max_length=36, description="the translation's id")]


@router.get("/{translation_id}", response_model=TranslationOut, summary="A translation's status, text or PDF",
            responses={200: {"content": {"text/plain": {}, "application/pdf": {}},
                             "description": "JSON (default), or with ?format=text / ?format=pdf the translation"},
                       409: {"description": "format=text/pdf of a translation not done (or failed)"}})
def read_translation(translation_id: TranslationId, service: ServiceDep, session: SessionDep, actor: ReadActor,
                     format: Annotated[Literal["json", "text", "pdf"], Query(
                         description="json: status and text; text: the translation as text/plain; pdf: as a PDF")] = "json",
                     ) -> Response | TranslationOut:
    """A job's status and progress, or the finished translation with its provenance.

    The PDF keeps the source's page order (each source page starts a page) and its headings."""
    job = service.read(session, translation_id, actor)
    release(session)  # the job is loaded; rendering a PDF must not hold a pooled connection
    headers = {"Cache-Control": "no-store"}
    if format == "json":
        out = TranslationOut.of(job)
        return Response(out.model_dump_json(), media_type="application/json", headers=headers)
    if job.status != "done" or job.result_text is None:
        raise TranslationNotReady(f"translation {job.id} is {job.status}"
                                  + (f" ({job.error_code}: {job.error_detail})" if job.error_code else
                                     "; poll GET " + f"{router.prefix}/{job.id} until it is done"))
    if format == "text":
        return Response(job.result_text, media_type="text/plain; charset=utf-8", headers=headers)
    rule_based = " Rule-based (Apertium): review it with particular care." if job.engine == "apertium" else ""
    footer = (f"Machine translation from Spanish by Alta ({job.engine}: {job.model} {job.model_version}); "
              f"a clinician must review it before clinical use.{rule_based}")
    try:
        pdf = render_pdf(job.result_text, footer=footer, font_dir=service.settings.translation_font_dir)
    except FontMissing as exc:
        raise PdfOutputUnavailable(str(exc)) from None
    return Response(pdf, media_type="application/pdf", headers={
        **headers, "Content-Disposition": f'attachment; filename="translation-{job.id}.pdf"'})
