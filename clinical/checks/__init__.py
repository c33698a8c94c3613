"""Closed-world review of a discharge-summary draft against the record it was written from.

A draft may come from the template writer, a fine-tuned model in the server or the browser, or a
clinician's edit; whichever it is, before it is signed every fact-like span of it (a name, a sex, an
age, an identifier, a date, a number with its unit, a drug with its dose, route, frequency and
duration, a diagnosis or procedure with its code, an allergy, the condition and destination at
discharge, a follow-up) is traced to a field of the record, and every fact the record requires
(the patient's name, the admission and discharge dates, each diagnosis in DIAGNÓSTICOS, each
procedure, each inpatient and discharge medication in its treatment section, each recorded allergy
and dated follow-up) is looked for in its section. What cannot be traced, contradicts the record or
is missing is a finding with its span, the record field, a Spanish message and a stable code.

What it guarantees and what it cannot: it sees what is written as a fact (numbers, dates, codes,
drugs from the lexicon, names from the name gazetteer, diagnosis terms from the Spanish CIE-10,
labelled lines, agreement words). A wrong fact written only in words the vocabularies do not know
("tomar la pastilla blanca") is not seen, and a finding is a prompt for a clinician to look, not a
verdict. The template writer's drafts never get a finding (a property test pins that).
"""

from __future__ import annotations

import logging

from clinical.checks.context import Context
from clinical.checks.dates import check_dates
from clinical.checks.diagnoses import check_diagnoses, check_procedures
from clinical.checks.findings import MESSAGES, CheckReport, Fact, Finding
from clinical.checks.identity import check_identity
from clinical.checks.measures import check_labs, check_numbers, check_vitals
from clinical.checks.medications import check_medications
from clinical.checks.record_index import RecordIndex
from clinical.checks.statements import check_allergies, check_discharge, check_follow_ups
from clinical.lexicon import load_lexicon
from clinical.record import HospitalStay

__all__ = ["MESSAGES", "CheckReport", "Fact", "Finding", "check_draft"]

logger = logging.getLogger(__name__)

# Most specific first: a span is judged once, by the first checker that claims it.
_PASSES = (
    check_identity,
    check_medications,
    check_diagnoses,
    check_procedures,
    check_allergies,
    check_discharge,
    check_follow_ups,
    check_dates,
    check_labs,
    check_vitals,
    check_numbers,
)


def check_draft(stay: HospitalStay, text: str) -> CheckReport:
    """Review a draft against its record: every fact traced, every required fact present."""
    lexicon = load_lexicon()
    ctx = Context(stay=stay, text=text, lexicon=lexicon, record=RecordIndex(stay, lexicon))
    for check in _PASSES:
        check(ctx)
    missing = [f for f in ctx.findings if f.start is None]
    spans = sorted((f for f in ctx.findings if f.start is not None), key=lambda f: (f.start, f.code))
    facts = tuple(sorted(ctx.facts, key=lambda f: (f.start, f.end)))
    report = CheckReport(tuple(missing + spans), facts)
    # Counts only: the draft and the record are patient data and never go to the logs.
    logger.debug("draft reviewed: %d findings, %d facts, %.2f attributed",
                 len(report.findings), len(facts), report.attributed_share)
    return report
