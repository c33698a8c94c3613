"""Medical record numbers (NHC, historia clínica, ficha, CIPA) and national ids written after a label."""

from __future__ import annotations

from clinical.deid.recognizers.labelled_id import LabelledIdRecognizer

__all__ = ["NhcRecognizer"]


class NhcRecognizer(LabelledIdRecognizer):
    """The patient's record number: ``NHC: 368503``, ``Historia clínica 12345``, ``Ficha: 887766``.

    National identifiers after their label ("RUT: ...", "DNI ...", "CURP: ...") are caught here
    too, whether or not their check digit is right: a mistyped RUT is still the patient's.
    """

    name = "nhc"
    phi_type = "ID_SUJETO_ASISTENCIA"
    labels = r"nhc|n\.h\.c|historia cl[ií]nica|ficha(?: cl[ií]nica)?|expediente|cipa|rut|run|dni|nie|curp|pasaporte"
