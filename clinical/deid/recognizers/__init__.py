"""Rule recognisers: PHI with a fixed format, and person names by context or gazetteer; one class per module."""

from __future__ import annotations

from clinical.deid.recognizers.curp import CurpRecognizer
from clinical.deid.recognizers.date import DateRecognizer
from clinical.deid.recognizers.dni import DniRecognizer
from clinical.deid.recognizers.email import EmailRecognizer
from clinical.deid.recognizers.episode import EpisodeRecognizer
from clinical.deid.recognizers.gazetteer_name import GazetteerNameRecognizer
from clinical.deid.recognizers.health_unit import HealthUnitRecognizer
from clinical.deid.recognizers.insurance import InsuranceIdRecognizer
from clinical.deid.recognizers.kinship_term import KinshipRecognizer
from clinical.deid.recognizers.licence import LicenceRecognizer
from clinical.deid.recognizers.manufacturer import ManufacturerRecognizer
from clinical.deid.recognizers.nhc import NhcRecognizer
from clinical.deid.recognizers.nie import NieRecognizer
from clinical.deid.recognizers.nss import NssRecognizer
from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.deid.recognizers.person_name import PersonNameRecognizer
from clinical.deid.recognizers.phone import PhoneRecognizer
from clinical.deid.recognizers.rfc import RfcRecognizer
from clinical.deid.recognizers.rut import RutRecognizer
from clinical.deid.recognizers.sex import SexRecognizer
from clinical.deid.recognizers.subject_descriptor import SubjectDescriptorRecognizer
from clinical.deid.recognizers.url import UrlRecognizer

__all__ = [
    "CurpRecognizer",
    "DateRecognizer",
    "DniRecognizer",
    "EmailRecognizer",
    "EpisodeRecognizer",
    "GazetteerNameRecognizer",
    "HealthUnitRecognizer",
    "InsuranceIdRecognizer",
    "KinshipRecognizer",
    "LicenceRecognizer",
    "ManufacturerRecognizer",
    "NhcRecognizer",
    "NieRecognizer",
    "NssRecognizer",
    "PatternRecognizer",
    "PersonNameRecognizer",
    "PhoneRecognizer",
    "RfcRecognizer",
    "RutRecognizer",
    "SexRecognizer",
    "SubjectDescriptorRecognizer",
    "UrlRecognizer",
    "default_name_recognizers",
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
        SexRecognizer(),
        ManufacturerRecognizer(),
        HealthUnitRecognizer(),
    ]


def default_name_recognizers() -> list[PatternRecognizer]:
    """The recognisers of people: names announced by a trigger, unannounced full names, and what
    only MEDDOCAN's guidelines count: relatives mentioned by kinship ("dos hermanos") and
    descriptions of the patient ("casada", "de origen boliviano")."""
    return [PersonNameRecognizer(), GazetteerNameRecognizer(), KinshipRecognizer(), SubjectDescriptorRecognizer()]
