"""FHIR R4 for Alta: a hospital stay in as a Bundle, the epicrisis out as a FHIR document.

- :func:`bundle_to_record`: a Bundle around one Encounter -> ``HospitalStay`` (or
  :class:`FhirMappingError` naming each element it cannot place).
- :func:`record_to_bundle`: the inverse, for integrators' fixtures and the round-trip test.
- :func:`document_bundle`: a stored epicrisis as a ``document`` Bundle (Composition, Patient,
  Encounter, coded entries, Provenance, attester when signed, DocumentReference).

Pure domain code: ``fhir.resources`` (R4B models, see ``codes``) parses and validates; no web framework.
"""

from clinical.fhir.bundle_in import bundle_to_record, read_bundle
from clinical.fhir.bundle_out import record_to_bundle
from clinical.fhir.document import DocumentFacts, Edit, document_bundle
from clinical.fhir.errors import FhirMappingError, Problem

__all__ = ["bundle_to_record", "read_bundle", "record_to_bundle", "document_bundle", "DocumentFacts", "Edit",
           "FhirMappingError", "Problem"]
