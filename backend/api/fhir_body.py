"""The epicrisis request body: Alta's JSON (``EpicrisisIn``) or a FHIR R4 Bundle, by Content-Type.

``Content-Type: application/fhir+json`` -> the Bundle is read by ``clinical.fhir.bundle_to_record``
and becomes the same ``EpicrisisIn`` a JSON client sends (``engine`` from the query string). Any
other body is read exactly as FastAPI reads a JSON body parameter (same 422s, same 400 for bytes
that are not JSON text), so switching a route to :data:`EpicrisisBody` changes nothing for JSON
clients. A Bundle the mapping cannot read is a 422 whose ``field`` names the FHIR element
(``Bundle.entry[3].resource.code``), never its value.

FastAPI cannot describe a body it does not read itself: :func:`document_request_bodies` writes the
two media types into the OpenAPI schema of every operation that uses the dependency.
"""

from __future__ import annotations

import email.message
import json
import logging
from collections.abc import Iterator
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from backend.api.deps import GenerateActor
from backend.api.schemas import EpicrisisIn
from clinical.fhir import FhirMappingError, bundle_to_record

logger = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"
_BUNDLE_SCHEMA: dict[str, Any] = {
    "title": "FhirBundle",
    "type": "object",
    "description": "A FHIR R4 Bundle (transaction, collection, batch or searchset) around one Encounter: "
                   "Patient, Encounter, Condition (ICD-10/CIE-10 coded), Procedure, MedicationRequest or "
                   "MedicationStatement, AllergyIntolerance, Observation, ServiceRequest or Appointment, CarePlan, "
                   "ClinicalImpression. The README's FHIR section has the mapping table; "
                   "clinical/examples/fhir/ has one Bundle per example record.",
    "required": ["resourceType", "entry"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "type": {"type": "string", "enum": ["transaction", "collection", "batch", "searchset"]},
        "entry": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["resource"],
            "properties": {"fullUrl": {"type": "string"}, "resource": {
                "type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}}}}}},
    },
}


def _media_type(request: Request) -> tuple[str | None, str | None]:
    value = request.headers.get("content-type")
    if not value:
        return None, None
    message = email.message.Message()
    message["content-type"] = value
    return message.get_content_maintype(), message.get_content_subtype()


def _invalid(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(errors)


async def _json_body(request: Request, raw: bytes) -> EpicrisisIn:
    """Alta's own JSON, read the way FastAPI reads a JSON body parameter (strict Content-Type)."""
    body: Any = raw
    main, sub = _media_type(request)
    if main == "application" and sub is not None and (sub == "json" or sub.endswith("+json")):
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _invalid([{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                             "input": {}, "ctx": {"error": exc.msg}}]) from None
        except ValueError:  # not UTF-8 (or -16/-32) text
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "There was an error parsing the body") from None
    try:
        return EpicrisisIn.model_validate(body, from_attributes=True)  # as FastAPI validates a body
    except ValidationError as exc:
        raise _invalid([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) from None


async def _fhir_body(raw: bytes, engine: str | None) -> EpicrisisIn:
    try:
        stay = await run_in_threadpool(bundle_to_record, raw)
    except FhirMappingError as exc:
        # counts and kinds only: the locations are safe, the Bundle's values are patient data
        logger.info("FHIR Bundle refused: %d problems (%s)", len(exc.problems),
                    ", ".join(sorted({p["type"] for p in exc.problems})))
        raise _invalid([{"loc": ("body", p["loc"]), "msg": p["msg"], "type": p["type"]}
                        for p in exc.problems]) from None
    return EpicrisisIn(record=stay, engine=engine)


async def epicrisis_body(
    request: Request,
    _actor: GenerateActor,  # authenticate before reading the body (cached: the route's own check is the same)
    engine: Annotated[str | None, Query(min_length=1, max_length=40, description=(
        "with a FHIR Bundle body: try this engine first (see GET /api/v1/models); "
        "with a JSON body, its own `engine` field wins"))] = None,
) -> EpicrisisIn:
    """The epicrisis request, from Alta's JSON or from a FHIR R4 Bundle (``Content-Type: application/fhir+json``)."""
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "There was an error parsing the body") from None
    if not raw:
        raise _invalid([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    main, sub = _media_type(request)
    if (main, sub) == ("application", "fhir+json"):
        return await _fhir_body(raw, engine)
    body = await _json_body(request, raw)
    return body.model_copy(update={"engine": engine}) if body.engine is None and engine else body


EpicrisisBody = Annotated[EpicrisisIn, Depends(epicrisis_body)]


def _uses_body(route: APIRoute) -> bool:
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is epicrisis_body:
            return True
        stack.extend(dependant.dependencies)
    return False


def _api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, through included routers (FastAPI keeps those lazily)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from _api_routes(included.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif isinstance(route, APIRoute):
            yield prefix + route.path_format, route


def document_request_bodies(app: FastAPI) -> None:
    """Describe both request media types in the OpenAPI schema of the routes that use :data:`EpicrisisBody`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # cached by FastAPI; what follows is idempotent
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        record_schema = EpicrisisIn.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in record_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault("EpicrisisIn", record_schema)
        example = json.loads((resources.files("clinical") / "examples" / "fhir" / "minimo.json").read_text("utf-8"))
        components.setdefault("FhirBundle", {**_BUNDLE_SCHEMA, "examples": [example]})
        for path, route in _api_routes(app.routes):
            if not _uses_body(route):
                continue
            for method in route.methods:
                operation = schema.get("paths", {}).get(path, {}).get(method.lower())
                if operation is None:
                    continue
                operation.setdefault("requestBody", {"required": True, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/EpicrisisIn"}},
                    FHIR_JSON: {"schema": {"$ref": "#/components/schemas/FhirBundle"}},
                }})
                operation.setdefault("responses", {}).setdefault("422", {
                    "description": "Validation Error: for a FHIR Bundle, `field` names the element "
                                   "(Bundle.entry[3].resource.code)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
