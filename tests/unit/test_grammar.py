"""The record grammar (clinical.grammar): golden files, and every text it accepts passes the record review.

The grammars are compiled with xgrammar for the demo bundle's byte-level tokenizer, and walked with
random allowed tokens: whatever order the walk picks, the draft it spells is one ``check_draft``
accepts. That is the guarantee the constrained engines rely on.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from tokenizers import Tokenizer

from clinical.checks import check_draft
from clinical.contract import GOLDEN_TODAY, example_records
from clinical.grammar import GrammarOptions, ebnf_literal, epicrisis_grammar, golden_grammars
from clinical.record import HospitalStay
from clinical.writer import render_epicrisis
from tests.support.strategies import hospital_stays
from tests.support import REPO

xgr = pytest.importorskip("xgrammar", reason="the constrain extra (make test installs it)")
from backend.engines.constraint import GrammarConstraints, TokenConstraint  # noqa: E402

GRAMMARS = REPO / "models/contract/grammars"
TOKENIZER = REPO / "models/demo-onnx/tokenizer.json"
EOS = 2  # the demo tokenizer's <|im_end|>


def stays() -> dict[str, HospitalStay]:
    return {name: HospitalStay.model_validate(raw, context={"today": GOLDEN_TODAY})
            for name, raw in example_records().items()}


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(TOKENIZER))


@pytest.fixture(scope="module")
def constraints(tokenizer) -> GrammarConstraints:
    return GrammarConstraints(tokenizer, frozenset({EOS}))


def accepts(constraint: TokenConstraint, tokenizer: Tokenizer, text: str) -> bool:
    """Whether the grammar takes ``text`` whole and then its end (the stop token)."""
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    return all(constraint.matcher.accept_token(i) for i in ids) and constraint.matcher.accept_token(EOS)


def random_walk(constraint: TokenConstraint, tokenizer: Tokenizer, rng: random.Random, limit: int = 4000) -> str:
    """A draft spelled by picking any allowed token at random (forced text jumped over), up to the stop token."""
    ids: list[int] = []
    vocab = np.arange(constraint.vocab_size)
    for _ in range(limit):
        logits = constraint.mask(np.zeros(constraint.vocab_size, np.float32))
        allowed = vocab[logits > -1e29]
        token = int(allowed[rng.randrange(len(allowed))])
        if token == EOS:
            return tokenizer.decode(ids, skip_special_tokens=True)
        constraint.accept(token)
        ids += [token, *constraint.forced(limit)]
    raise AssertionError("the walk did not reach the end of the grammar")


def test_golden_grammars_are_what_the_builder_writes():
    written = {p.stem: p.read_text(encoding="utf-8") for p in GRAMMARS.glob("*.ebnf")}
    assert written == golden_grammars(), "rebuild them with `make golden` (python -m clinical.contract write-golden)"
    assert set(written) == set(example_records())


@pytest.mark.parametrize("name", sorted(example_records()))
def test_the_template_draft_is_in_the_grammar(name, constraints, tokenizer):
    stay = stays()[name]
    assert accepts(constraints.for_stay(stay), tokenizer, render_epicrisis(stay))


@pytest.mark.parametrize("name", sorted(example_records()))
def test_random_walks_through_the_grammar_pass_the_review(name, constraints, tokenizer):
    stay, rng = stays()[name], random.Random(name)
    drafts = {random_walk(constraints.for_stay(stay), tokenizer, rng) for _ in range(4)}
    assert len(drafts) > 1 or name == "minimo"  # the lists really are in the model's order
    for draft in drafts:
        report = check_draft(stay, draft)
        assert report.ok, [(f.code, f.text) for f in report.findings]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stay=hospital_stays())
def test_any_record_any_order_passes_the_review(stay, constraints, tokenizer):
    draft = random_walk(constraints.for_stay(stay), tokenizer, random.Random(0))
    report = check_draft(stay, draft)
    assert report.ok, [(f.code, f.text) for f in report.findings]


def grammar_rejects(constraints, tokenizer, stay: HospitalStay, text: str) -> bool:
    return not accepts(constraints.for_stay(stay), tokenizer, text)


def test_other_names_doses_dates_and_repeats_are_not_in_the_grammar(constraints, tokenizer):
    stay = stays()["neumonia_chile"]
    text = render_epicrisis(stay)
    for wrong in (text.replace("María Elena Soto Pérez", "María Elena Soto Pinto"),  # another patient
                  text.replace("Levofloxacino 750 mg", "Levofloxacino 500 mg"),  # a dose the record lacks
                  text.replace("29 de enero de 2026", "28 de enero de 2026"),  # a date the record lacks
                  text.replace("3. Losartán 50 mg vía oral cada 12 horas.",  # an item twice, one left out
                               "3. Metformina 850 mg vía oral cada 12 horas."),
                  text.replace("\nCONTROLES\n", "\nCONTROLES\n- Traumatología.\n"),  # an invented follow-up
                  text.replace("\n\nINDICACIONES\n", "\n\n"),  # a section left out
                  text.rstrip("\n")[:-40] + "\n"):  # cut short
        assert grammar_rejects(constraints, tokenizer, stay, wrong)


def test_lists_are_renumbered_by_position_and_the_principal_diagnosis_stays_first(constraints, tokenizer):
    stay = stays()["neumonia_chile"]
    text = render_epicrisis(stay)
    swapped = text.replace("2. Diabetes mellitus tipo 2 (CIE-10: E11.9)\n3. Hipertensión arterial esencial (CIE-10: I10)",
                           "2. Hipertensión arterial esencial (CIE-10: I10)\n3. Diabetes mellitus tipo 2 (CIE-10: E11.9)")
    assert swapped != text and accepts(constraints.for_stay(stay), tokenizer, swapped)
    assert check_draft(stay, swapped).ok
    principal_moved = text.replace(
        "1. Neumonía adquirida en la comunidad (CIE-10: J18.9)\n2. Diabetes mellitus tipo 2 (CIE-10: E11.9)",
        "1. Diabetes mellitus tipo 2 (CIE-10: E11.9)\n2. Neumonía adquirida en la comunidad (CIE-10: J18.9)")
    assert grammar_rejects(constraints, tokenizer, stay, principal_moved)
    misnumbered = swapped.replace("2. Hipertensión", "3. Hipertensión")
    assert grammar_rejects(constraints, tokenizer, stay, misnumbered)


def test_long_lists_keep_the_record_order_and_say_so():
    raw = example_records()["neumonia_chile"]
    nine = {**raw, "discharge_instructions": [f"Indicación número {w}" for w in
                                              ("uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho",
                                               "nueve")]}
    grammar = epicrisis_grammar(HospitalStay.model_validate(nine, context={"today": GOLDEN_TODAY}))
    assert "9 items: more than 8, kept in the record's order" in grammar
    assert "indicaciones_set_" not in grammar and "indicaciones_items ::=" in grammar
    # 3 items: a rule per set of items written before the last one, 2^3 - 1 of them
    assert "tratamiento_alta_set_6 ::=" in grammar and "tratamiento_alta_set_7 ::=" not in grammar


def test_free_narrative_has_no_digits_and_a_bounded_length(tokenizer):
    stay = stays()["neumonia_chile"]
    free = GrammarConstraints(tokenizer, frozenset({EOS}), GrammarOptions(narrative="free", narrative_chars=120))
    text = render_epicrisis(stay)
    narrative = stay.evolution.strip()
    assert "13 de enero" in narrative  # the record's own text has a date: free text may not
    assert not accepts(free.for_stay(stay), tokenizer, text)
    words = "Evoluciona favorablemente, afebril, con buena tolerancia oral."
    assert accepts(free.for_stay(stay), tokenizer, text.replace(narrative, words))
    assert not accepts(free.for_stay(stay), tokenizer, text.replace(narrative, "Evoluciona bien " + "y " * 60))
    assert re.search(r"narrative_line ::= \[\^0-9\\n\] \[\^0-9\\n\]\{0,119\}", epicrisis_grammar(
        stay, GrammarOptions(narrative="free", narrative_chars=120)))


def test_literals_escape_quotes_backslashes_and_controls():
    assert ebnf_literal('Dosis "alta"\\n\n\t\x01ñ') == '"Dosis \\"alta\\"\\\\n\\n\\t\\x01ñ"'
    # closed after each non-ASCII character that has text after it (web-xgrammar 0.1.27 needs it)
    assert ebnf_literal("María Pérez") == '"Marí" "a Pé" "rez"'
