"""Request and response bodies, one schema per use."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from backend.db.models import Document, Generation
from clinical.checks import CheckReport
from clinical.contract import example_records
from clinical.record import HospitalStay

EXAMPLES = example_records()


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


UtcDatetime = Annotated[dt.datetime, AfterValidator(_utc)]
"""A timestamp answered with its UTC offset (``...+00:00``): the database keeps naive UTC (SQLite has
no time zones), and a date-time without an offset is not RFC 3339."""


class Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EpicrisisIn(Inbound):
    record: HospitalStay
    engine: str | None = Field(None, description="pin this engine (see GET /api/v1/models): it alone writes, and "
                                                 "its draft is stored with its review findings, never replaced")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"record": EXAMPLES["neumonia_chile"]}]},
    )


class DocumentUpdate(Inbound):
    text: Annotated[str, StringConstraints(min_length=1, max_length=200_000)]
    base_version: int = Field(ge=1, description="the version this edit was made on; a stale one gets 409")
    author: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SignIn(Inbound):
    """A signature is a person's: the signed-in médico (with ``password`` unless it was entered within
    the last few minutes), or, through an EHR key with the ``sign`` scope, the médico named by
    ``username`` with their own ``password``. There is no free-text signer name."""

    version: int = Field(ge=1, description="the version the clinician read and signs")
    acknowledge_findings: bool = Field(
        False, description="sign although the output checks report findings (the audit trail records it)"
    )
    password: SecretStr | None = Field(
        None, min_length=1, max_length=1024, description="the signer's password, entered again to sign")
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = Field(
        None, description="EHR keys only: the médico the key signs for (their password in 'password')")


class SignerOut(BaseModel):
    """The person who signed, as recorded at signing."""

    user_id: int
    name: str
    registry_type: str | None
    registry_number: str | None
    via_key: str | None = Field(description="the EHR key that carried the signature, if not the page")


class FindingOut(BaseModel):
    """A fact of the draft the record contradicts or lacks, or a fact the record requires that is missing."""

    code: str = Field(description="stable name of the finding, e.g. wrong_name, wrong_dose, missing_diagnosis")
    kind: str = Field(description="the family of fact: identity, date, stay, medication, diagnosis, procedure, "
                                  "allergy, discharge, follow_up, lab, vital_sign, number")
    text: str = Field(description="the draft's span, or the record item that is missing")
    message: str = Field(description="what is wrong, in Spanish, for the page")
    field: str | None = Field(None, description="the record field it contradicts or lacks")
    start: int | None = Field(None, description="code-point span in the text; null for a missing fact")
    end: int | None = None


class FactOut(BaseModel):
    kind: str
    start: int
    end: int
    field: str | None = Field(description="the record field the span was traced to; null when not traced")
    traced: bool


class ChecksOut(BaseModel):
    """The review of the text against its record (clinical.checks): findings and every fact's source."""

    ok: bool
    reviewed: bool = Field(True, description="always true: every stored text is reviewed by the server")
    attributed_share: float = Field(description="share of the text's fact spans traced to a record field")
    findings: list[FindingOut]
    facts: list[FactOut] = []

    @classmethod
    def of(cls, report: CheckReport) -> ChecksOut:
        return cls.model_validate(report.to_dict())


class FallbackOut(BaseModel):
    engine: str
    reason: str


class Provenance(BaseModel):
    """Which engine and model wrote the draft, how long it took, and which engines were passed over."""

    engine: str
    model: str
    model_version: str
    latency_ms: float
    demo: bool = Field(False, description="a demonstration model wrote the draft")
    fallbacks: list[FallbackOut] = []

    @classmethod
    def of(cls, gen: Generation) -> Provenance:
        return cls(engine=gen.engine, model=gen.model, model_version=gen.model_version,
                   latency_ms=round(gen.latency_ms, 3), demo=bool(gen.demo), fallbacks=json.loads(gen.fallbacks_json))


class VersionOut(BaseModel):
    version: int
    source: Literal["engine", "clinician"]
    author: str
    created_at: UtcDatetime


class DocumentOut(BaseModel):
    id: str
    kind: str
    status: Literal["draft", "signed"]
    version: int
    text: str
    checks: ChecksOut
    provenance: Provenance | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    signed_at: UtcDatetime | None
    signed_by: str | None
    signer: SignerOut | None = None
    versions: list[VersionOut]
    record: dict[str, Any]

    @classmethod
    def of(cls, doc: Document, text: str, checks: CheckReport, generation: Generation | None) -> DocumentOut:
        return cls(
            id=doc.id, kind=doc.kind, status=doc.status, version=doc.current_version, text=text,
            checks=ChecksOut.of(checks), provenance=Provenance.of(generation) if generation else None,
            created_at=doc.created_at, updated_at=doc.updated_at, signed_at=doc.signed_at,
            signed_by=doc.signed_by, record=json.loads(doc.record_json),
            signer=SignerOut(user_id=doc.signer_user_id, name=doc.signed_by or "",
                             registry_type=doc.signer_registry_type, registry_number=doc.signer_registry_number,
                             via_key=doc.signed_via_key) if doc.signer_user_id is not None else None,
            versions=[VersionOut(version=v.version, source=v.source, author=v.author, created_at=v.created_at)
                      for v in doc.versions],
        )


class DocumentSummary(BaseModel):
    id: str
    status: str
    version: int
    principal_diagnosis: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


class DocumentList(BaseModel):
    items: list[DocumentSummary]
    total: int
    limit: int
    offset: int


class VersionTextOut(VersionOut):
    text: str


class ModelOut(BaseModel):
    engine: str
    model: str
    version: str
    tasks: list[str]
    healthy: bool
    detail: str
    position: int = Field(description="place in the fallback order, 0 first")
