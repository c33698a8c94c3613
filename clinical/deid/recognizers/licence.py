"""Professional licence numbers: Spanish colegiado, Mexican cédula profesional, Chilean RNPI."""

from __future__ import annotations

from clinical.deid.recognizers.labelled_id import LabelledIdRecognizer

__all__ = ["LicenceRecognizer"]


class LicenceRecognizer(LabelledIdRecognizer):
    """``NºCol: 28 28 70973``, ``Cédula profesional 1234567``, ``RNPI 123456``, ``Matrícula: 4455``."""

    name = "licence"
    phi_type = "ID_TITULACION_PERSONAL_SANITARIO"
    labels = (
        r"n[º°o]\.?\s?col|col\.|colegiad[oa]|n[úu]m(?:ero)?\.? de colegiad[oa]|c[eé]d(?:ula)?\.? prof(?:esional)?\.?"
        r"|rnpi|registro (?:nacional de prestadores|profesional)|matr[ií]cula(?: profesional)?"
    )
