"""Health-insurance and social-security numbers: NASS, afiliación, póliza, FONASA/ISAPRE, IMSS."""

from __future__ import annotations

from clinical.deid.recognizers.labelled_id import LabelledIdRecognizer

__all__ = ["InsuranceIdRecognizer"]


class InsuranceIdRecognizer(LabelledIdRecognizer):
    """``NASS: 26 63514095``, ``Nº afiliación 123456``, ``Póliza 99887766``, ``Isapre: 1234567``."""

    name = "insurance"
    phi_type = "ID_ASEGURAMIENTO"
    labels = (
        r"nass|n\.a\.s\.s|n[úu]mero de la seguridad social|n[º°o] (?:de )?(?:la )?seguridad social"
        r"|afiliaci[oó]n|afiliado|p[oó]liza|tarjeta sanitaria|tsi|cip|isapre|fonasa|issste|nss|imss"
    )
