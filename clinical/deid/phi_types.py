"""The PHI types Alta recognises: MEDDOCAN's type names and the short placeholder type of each.

Spans carry MEDDOCAN's type names (the guidelines of the IberLEF 2019 shared task) so that Alta's
output can be scored strictly, span and type, against any MEDDOCAN-style BRAT corpus. Placeholders
use a shorter word without underscores (``__PHI_NOMBRE_1__``): a translation model copies a short,
readable token more reliably, and the placeholder grammar stays unambiguous.
"""

from __future__ import annotations

__all__ = ["MEDDOCAN_TYPES", "PLACEHOLDER_TYPES", "ESCAPE_TYPE", "placeholder_type"]

# Every type of the MEDDOCAN annotation guidelines, mapped to its placeholder type. Several
# identifier types share ID-like placeholders because a translator treats them alike, but patient,
# staff and relative names are kept apart: an English clinician reads "the patient" and "Dr. X"
# differently, and surrogate generation picks different lists for them.
PLACEHOLDER_TYPES: dict[str, str] = {
    "NOMBRE_SUJETO_ASISTENCIA": "NOMBRE",
    "NOMBRE_PERSONAL_SANITARIO": "PROFESIONAL",
    "FAMILIARES_SUJETO_ASISTENCIA": "FAMILIAR",
    "EDAD_SUJETO_ASISTENCIA": "EDAD",
    "SEXO_SUJETO_ASISTENCIA": "SEXO",
    "FECHAS": "FECHA",
    "PROFESION": "PROFESION",
    "OTROS_SUJETO_ASISTENCIA": "OTRO",
    "CALLE": "CALLE",
    "TERRITORIO": "TERRITORIO",
    "PAIS": "PAIS",
    "HOSPITAL": "HOSPITAL",
    "CENTRO_SALUD": "CENTROSALUD",
    "INSTITUCION": "INSTITUCION",
    "NUMERO_TELEFONO": "TELEFONO",
    "NUMERO_FAX": "FAX",
    "CORREO_ELECTRONICO": "CORREO",
    "URL_WEB": "URL",
    "DIREC_PROT_INTERNET": "IP",
    "ID_SUJETO_ASISTENCIA": "ID",
    "ID_ASEGURAMIENTO": "IDSEGURO",
    "ID_CONTACTO_ASISTENCIAL": "IDCONTACTO",
    "ID_TITULACION_PERSONAL_SANITARIO": "IDPROFESIONAL",
    "ID_EMPLEO_PERSONAL_SANITARIO": "IDEMPLEO",
    "NUMERO_BEN_PLAN_SALUD": "IDSEGURO",
    "IDENTIF_VEHICULOS_NRSERIE_PLACAS": "IDVEHICULO",
    "IDENTIF_DISPOSITIVOS_NRSERIE": "IDDISPOSITIVO",
    "OTRO_NUMERO_IDENTIF": "IDOTRO",
}

MEDDOCAN_TYPES: tuple[str, ...] = tuple(PLACEHOLDER_TYPES)

# Not a PHI type: text that already looks like a placeholder ("__PHI_...") is replaced by one of
# its own, so that re-identification can never confuse it with a real placeholder.
ESCAPE_TYPE = "LITERAL"


def placeholder_type(meddocan_type: str) -> str:
    """The short placeholder type of a MEDDOCAN type (``ValueError`` for an unknown one)."""
    if meddocan_type == ESCAPE_TYPE:
        return ESCAPE_TYPE
    try:
        return PLACEHOLDER_TYPES[meddocan_type]
    except KeyError:
        raise ValueError(
            f"unknown PHI type {meddocan_type!r}; use one of MEDDOCAN's type names "
            "(clinical.deid.phi_types.MEDDOCAN_TYPES)"
        ) from None
