"""A stored epicrisis out as a FHIR R4 ``document`` Bundle: Composition first, then what it references.

The Composition carries the current text as escaped XHTML narrative, one section per heading the
writer uses (a text a clinician restructured becomes one section), with the stay's Conditions,
Procedures and MedicationRequests as coded entries. Its ``status`` follows sign-off (``preliminary``
until signed, then ``final`` with an ``attester``). A Provenance says which engine drafted the text,
which API key asked for it, which clinicians edited it and who signed it; ``activity`` tells an EHR
whether the current text is AI-drafted, template-drafted or clinician-edited, and drafts from a
model carry the HL7 ``AIAST`` (AI-assisted) security label.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any, Literal

from clinical.fhir import codes
from clinical.fhir.bundle_out import _Builder, resources, validated
from clinical.record import HospitalStay
from clinical.writer.spanish import SECTION_TITLES

# LOINC section codes (document section ontology) for the writer's sections.
SECTION_LOINC: dict[str, tuple[str, str]] = {
    "motivo": ("29299-5", "Reason for visit Narrative"),
    "antecedentes": ("11348-0", "History of Past illness Narrative"),
    "diagnosticos": ("11535-2", "Hospital discharge Dx Narrative"),
    "procedimientos": ("47519-4", "History of Procedures Document"),
    "evolucion": ("8648-8", "Hospital course Narrative"),
    "examenes": ("30954-2", "Relevant diagnostic tests/laboratory data Narrative"),
    "tratamiento_hospitalizacion": ("29549-3", "Medication administered Narrative"),
    "tratamiento_alta": ("10183-2", "Hospital discharge medications Narrative"),
    "indicaciones": ("8653-8", "Hospital Discharge instructions"),
    "controles": ("18776-5", "Plan of care note"),
}
_BY_TITLE = {title: key for key, title in SECTION_TITLES.items()}
AI_FREE_ENGINES = frozenset({"template"})  # deterministic writers: not AI-drafted


@dataclass(frozen=True)
class Edit:
    """One stored version: who wrote it (an engine's name, or a clinician) and when (UTC)."""

    version: int
    source: Literal["engine", "clinician"]
    author: str
    created_at: dt.datetime


@dataclass(frozen=True)
class DocumentFacts:
    """What the document store knows about an epicrisis, beyond the record it was written from."""

    id: str
    version: int
    text: str
    signed: bool
    created_at: dt.datetime  # UTC, naive as the database keeps it
    updated_at: dt.datetime
    created_by: str  # the API key that asked for the draft
    engine: str
    model: str
    model_version: str
    edits: list[Edit] = field(default_factory=list)
    signed_by: str | None = None
    signed_at: dt.datetime | None = None
    signed_with: str | None = None  # the API key the signature came through


def _utc(value: dt.datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def _narrative(lines: str) -> dict[str, str]:
    body = "<br/>".join(html.escape(line, quote=False) for line in lines.splitlines()) or "&#160;"
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{body}</p></div>'}


def split_sections(text: str) -> list[tuple[str | None, str, str]]:
    """(section key or None, heading, body) for each writer heading found on a line of its own."""
    sections: list[tuple[str | None, str, list[str]]] = []
    for line in text.splitlines():
        key = _BY_TITLE.get(line.strip())
        if key is not None:
            sections.append((key, line.strip(), []))
        elif sections:
            sections[-1][2].append(line)
        elif line.strip():
            sections.append((None, "EPICRISIS", [line]))
    return [(k, t, "\n".join(body).strip()) for k, t, body in sections] or [(None, "EPICRISIS", text)]


def _authorship(facts: DocumentFacts) -> tuple[str, str]:
    current = next((e for e in facts.edits if e.version == facts.version), None)
    if current is not None and current.source == "clinician":
        return "clinician-edited", "texto editado por un profesional sobre el borrador"
    if facts.engine in AI_FREE_ENGINES:
        return "template-drafted", "borrador de plantilla determinista, sin IA"
    return "ai-drafted", "borrador redactado por IA, revisar antes de firmar"


def document_bundle(stay: HospitalStay, facts: DocumentFacts, *,
                    composition_type: str = codes.DISCHARGE_SUMMARY, utc_offset: dt.tzinfo = dt.UTC,
                    document_reference: bool = True) -> dict[str, Any]:
    """The epicrisis as a FHIR R4 document Bundle (JSON-ready dict), validated with ``fhir.resources``.

    ``composition_type``: LOINC 18842-5 (Discharge summary, default) or 34105-7 (the EU hospital
    discharge report). ``utc_offset`` is the hospital's, for the record's wall-clock times.
    """
    if composition_type not in codes.COMPOSITION_TYPES:
        raise ValueError(f"composition_type must be one of {', '.join(codes.COMPOSITION_TYPES)}")
    b = _Builder(stay, utc_offset)
    b.seed = f"{facts.id}:{facts.version}:{b.seed}"
    composition_at = len(b.entries)
    composition = b.add({})
    refs = resources(b)
    context = {"subject": {"reference": refs["patient"]}, "encounter": {"reference": refs["encounter"]}}
    doc_type = _cc_loinc(composition_type, codes.COMPOSITION_TYPES[composition_type])
    status = "final" if facts.signed else "preliminary"
    authorship, authorship_text = _authorship(facts)

    engine_ref = {"type": "Device", "display": f"Alta engine {facts.engine} ({facts.model} {facts.model_version})"}
    clinicians = list(dict.fromkeys(e.author for e in facts.edits if e.source == "clinician"))
    authors = [engine_ref] + [{"type": "Practitioner", "display": name} for name in clinicians]
    resource: dict[str, Any] = {
        "resourceType": "Composition", "id": b.entries[composition_at]["resource"]["id"],
        "meta": {"versionId": str(facts.version)},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{facts.id}"},
        "status": status, "type": doc_type, **context, "date": _utc(facts.updated_at),
        "author": authors, "title": "Epicrisis", "section": _sections(b, facts.text),
    }
    if facts.engine not in AI_FREE_ENGINES:
        resource["meta"]["security"] = [{"system": codes.V3_OBSERVATION_VALUE, "code": "AIAST",
                                         "display": "artificial intelligence asserted"}]
    if facts.signed and facts.signed_by and facts.signed_at:
        resource["attester"] = [{"mode": "legal", "time": _utc(facts.signed_at),
                                 "party": {"type": "Practitioner", "display": facts.signed_by}}]
    b.entries[composition_at]["resource"] = resource

    targets = [{"reference": composition}]
    if document_reference:
        targets.append({"reference": b.add({
            "resourceType": "DocumentReference", "status": "current", "docStatus": status, "type": doc_type,
            "subject": context["subject"], "date": _utc(facts.updated_at), "author": authors,
            "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "language": "es",
                                        "data": base64.b64encode(facts.text.encode()).decode(),
                                        "title": f"Epicrisis v{facts.version}"}}],
            "context": {"encounter": [context["encounter"]]}})})
    b.add(_provenance(facts, targets, engine_ref, authorship, authorship_text))

    timestamp = _utc(facts.signed_at if facts.signed and facts.signed_at else facts.updated_at)
    bundle = {"resourceType": "Bundle", "type": "document", "timestamp": timestamp,
              "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{b.entries[-1]['resource']['id']}"},
              "entry": b.entries}
    return validated(bundle)


def _cc_loinc(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.LOINC, "code": code, "display": display}]}


def _sections(b: _Builder, text: str) -> list[dict[str, Any]]:
    entries: dict[str, list[dict[str, str]]] = {"diagnosticos": [], "procedimientos": [],
                                                "tratamiento_hospitalizacion": [], "tratamiento_alta": []}
    for e in b.entries:
        r = e["resource"]
        kind = r.get("resourceType")
        ref = {"reference": e["fullUrl"]}
        if kind == "Condition" and r["category"][0]["coding"][0]["code"] == "encounter-diagnosis":
            entries["diagnosticos"].append(ref)
        elif kind == "Procedure" and "encounter" in r:
            entries["procedimientos"].append(ref)
        elif kind == "MedicationRequest":
            group = r["category"][0]["coding"][0]["code"]
            entries["tratamiento_hospitalizacion" if group == "inpatient" else "tratamiento_alta"].append(ref)
    out = []
    for key, title, body in split_sections(text):
        section: dict[str, Any] = {"title": title, "text": _narrative(body)}
        if key in SECTION_LOINC:
            section["code"] = _cc_loinc(*SECTION_LOINC[key])
        if key in entries and entries[key]:
            section["entry"] = entries.pop(key)
        out.append(section)
    return out


def _provenance(facts: DocumentFacts, targets: list[dict[str, str]], engine_ref: dict[str, str],
                authorship: str, authorship_text: str) -> dict[str, Any]:
    def agent(kind: str, who: dict[str, str], role: str) -> dict[str, Any]:
        return {"type": {"coding": [{"system": codes.PROVENANCE_PARTICIPANT, "code": kind}]},
                "role": [{"text": role}], "who": who}

    agents = [agent("author", engine_ref, "borrador (versión 1)"),
              agent("enterer", {"type": "Device", "display": f"API key {facts.created_by}"}, "solicitó el borrador")]
    for e in facts.edits:
        if e.source == "clinician":
            agents.append(agent("author", {"type": "Practitioner", "display": e.author}, f"edición (versión {e.version})"))
    if facts.signed and facts.signed_by:
        agents.append(agent("attester", {"type": "Practitioner", "display": facts.signed_by},
                            f"firma (versión {facts.version})"))
        if facts.signed_with:
            agents.append(agent("enterer", {"type": "Device", "display": f"API key {facts.signed_with}"},
                                "registró la firma"))
    return {"resourceType": "Provenance", "target": targets,
            "recorded": _utc(facts.signed_at if facts.signed and facts.signed_at else facts.updated_at),
            "activity": {"coding": [{"system": codes.AUTHORSHIP, "code": authorship}], "text": authorship_text},
            "agent": agents}
