"""Rule recognisers for PHI with a fixed format, one class per module."""

from __future__ import annotations

from clinical.deid.recognizers.curp import CurpRecognizer
from clinical.deid.recognizers.date import DateRecognizer
from clinical.deid.recognizers.dni import DniRecognizer
from clinical.deid.recognizers.email import EmailRecognizer
from clinical.deid.recognizers.episode import EpisodeRecognizer
from clinical.deid.recognizers.insurance import InsuranceIdRecognizer
from clinical.deid.recognizers.licence import LicenceRecognizer
from clinical.deid.recognizers.nhc import NhcRecognizer
from clinical.deid.recognizers.nie import NieRecognizer
from clinical.deid.recognizers.nss import NssRecognizer
from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.deid.recognizers.phone import PhoneRecognizer
from clinical.deid.recognizers.rfc import RfcRecognizer
from clinical.deid.recognizers.rut import RutRecognizer
from clinical.deid.recognizers.url import UrlRecognizer

__all__ = [
    "CurpRecognizer",
    "DateRecognizer",
    "DniRecognizer",
    "EmailRecognizer",
    "EpisodeRecognizer",
    "InsuranceIdRecognizer",
    "LicenceRecognizer",
    "NhcRecognizer",
    "NieRecognizer",
    "NssRecognizer",
    "PatternRecognizer",
    "PhoneRecognizer",
    "RfcRecognizer",
    "RutRecognizer",
    "UrlRecognizer",
    "default_rule_recognizers",
]


def default_rule_recognizers() -> list[PatternRecognizer]:
    """One instance of every rule recogniser Alta ships."""
    return [
        RutRecognizer(),
        CurpRecognizer(),
        RfcRecognizer(),
        NssRecognizer(),
        DniRecognizer(),
        NieRecognizer(),
        NhcRecognizer(),
        EpisodeRecognizer(),
        InsuranceIdRecognizer(),
        LicenceRecognizer(),
        EmailRecognizer(),
        UrlRecognizer(),
        PhoneRecognizer(),
        DateRecognizer(),
    ]
