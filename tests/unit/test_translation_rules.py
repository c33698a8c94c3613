"""The rule-based engine's helpers: English for words Apertium does not know, English conventions."""

from __future__ import annotations

import pytest

from clinical.translate.polish import polish
from clinical.translate.protect import TOKEN
from clinical.translate.unknown_words import english_for_unknown, resolve_unknown


@pytest.mark.parametrize(("spanish", "english"), [
    ("hospitalizados", "hospitalized"), ("virológica", "virological"), ("prevalencia", "prevalence"),
    ("infecciosa", "infectious"), ("asintomáticos", "asymptomatic"), ("bronquitis", "bronchitis"),
    ("Sarampión", "Measles"),  # a CIE-10 / ICD-10 disease name, capitalised as written
    ("consultorios", "consultorios"),  # no rule: left as written
    ("Nidovirales", "Nidovirales"),  # a capitalised name is not a cognate
])
def test_english_for_unknown_words(spanish: str, english: str) -> None:
    assert english_for_unknown(spanish) == english


def test_only_marked_words_change_and_tokens_keep_their_form() -> None:
    assert resolve_unknown("the *hospitalizados and *xqbqx; hospitalizados", keep=TOKEN) == \
        "the hospitalized and xqbqx; hospitalizados"


@pytest.mark.parametrize(("raw", "english"), [
    ("Take 2,5 mg every 8 hours", "Take 2.5 mg every 8 hours"),
    ("1,037 people and 27,3 %–29,8\u00a0%", "1,037 people and 27.3%–29.8%"),
    ("in a intensive care unit, a ultrasound, a unit, a European, a hour", "in an intensive care unit, "
     "an ultrasound, a unit, a European, an hour"),
    ("__PHI_FECHA_1__ at 10,30", "__PHI_FECHA_1__ at 10.30"),
])
def test_polish(raw: str, english: str) -> None:
    assert polish(raw) == english
