"""Admission and encounter numbers written after their label ("Episodio: 2455656")."""

from __future__ import annotations

from clinical.deid.recognizers.labelled_id import LabelledIdRecognizer

__all__ = ["EpisodeRecognizer"]


class EpisodeRecognizer(LabelledIdRecognizer):
    """``Episodio: 2455656``, ``Nº de ingreso 889911``, ``Folio 123456``."""

    name = "episode"
    phi_type = "ID_CONTACTO_ASISTENCIAL"
    labels = r"episodio|n[º°o]\.? de ingreso|n[úu]mero de ingreso|folio"
