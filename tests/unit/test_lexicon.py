"""Tests of the drug lexicon: its size, spelling variants, spans into the original text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinical.lexicon import DrugLexicon, fold, load_lexicon, parse_tsv


@pytest.fixture(scope="module")
def lexicon() -> DrugLexicon:
    return load_lexicon()


def test_lexicon_is_large_and_well_formed(lexicon: DrugLexicon) -> None:
    assert len(lexicon) >= 150
    for entry in lexicon:
        assert entry.canonical == entry.canonical.lower()
        assert entry.group
        assert lexicon.canonical(entry.canonical) == entry.canonical
        for variant in entry.variants:
            assert lexicon.canonical(variant) == entry.canonical, variant


def test_load_is_cached() -> None:
    assert load_lexicon() is load_lexicon()


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("acetaminofén", "paracetamol"),
        ("ACETAMINOFEN", "paracetamol"),
        ("Paracetamol", "paracetamol"),
        ("dipirona", "metamizol"),
        ("Metamizol sódico", "metamizol"),
        ("albuterol", "salbutamol"),
        ("AAS", "ácido acetilsalicílico"),
        ("aspirina", "ácido acetilsalicílico"),
        ("acido acetilsalicilico", "ácido acetilsalicílico"),
        ("Clonixinato de lisina", "clonixinato de lisina"),
        ("amoxicilina con ácido clavulánico", "amoxicilina/ácido clavulánico"),
        ("Amoxicilina - Ácido Clavulánico", "amoxicilina/ácido clavulánico"),
        ("amoxicilina-clavulánico", "amoxicilina/ácido clavulánico"),
        ("insulina isófana", "insulina nph"),
        ("Insulina NPH", "insulina nph"),
        ("insulina regular", "insulina cristalina"),
        ("insulina rápida", "insulina cristalina"),
        ("enoxaparina", "enoxaparina"),
        ("norepinefrina", "noradrenalina"),
        ("Fentanil", "fentanilo"),
        ("KCl", "cloruro de potasio"),
        ("cotrimoxazol", "trimetoprim/sulfametoxazol"),
        ("  Losartan.  ", "losartán"),
    ],
)
def test_canonical_maps_variants(lexicon: DrugLexicon, name: str, canonical: str) -> None:
    assert lexicon.canonical(name) == canonical


@pytest.mark.parametrize("name", ["agua", "reposo", "amoxicilina 500 mg", "", "paracetamolx"])
def test_canonical_of_non_drug_is_none(lexicon: DrugLexicon, name: str) -> None:
    assert lexicon.canonical(name) is None


def test_find_spans_point_into_original_text_with_accents(lexicon: DrugLexicon) -> None:
    text = "Recibió ACETAMINOFÉN y Ácido   Acetilsalicílico; alérgica a penicilina."
    mentions = lexicon.find(text)
    assert [(m.canonical, m.surface) for m in mentions] == [
        ("paracetamol", "ACETAMINOFÉN"),
        ("ácido acetilsalicílico", "Ácido   Acetilsalicílico"),
        ("penicilina", "penicilina"),
    ]
    for m in mentions:
        assert text[m.start : m.end] == m.surface
    assert mentions[0].start == text.index("ACETAMINOFÉN")


def test_find_prefers_longest_match(lexicon: DrugLexicon) -> None:
    text = "Se cambia a amoxicilina/ácido clavulánico 875/125 mg; antes amoxicilina sola."
    mentions = lexicon.find(text)
    assert [m.canonical for m in mentions] == ["amoxicilina/ácido clavulánico", "amoxicilina"]
    assert mentions[0].surface == "amoxicilina/ácido clavulánico"
    assert [m.canonical for m in lexicon.find("Insulina glargina 20 UI")] == ["insulina glargina"]
    spaced = lexicon.find("Amoxicilina - Ácido Clavulánico")
    assert len(spaced) == 1 and spaced[0].end == len("Amoxicilina - Ácido Clavulánico")


def test_find_respects_word_boundaries(lexicon: DrugLexicon) -> None:
    assert lexicon.find("casas y paracetamoles, nphx") == []
    assert [m.canonical for m in lexicon.find("(AAS)")] == ["ácido acetilsalicílico"]


def test_fold_keeps_offsets() -> None:
    folded, offsets = fold("Ácido  Ñandú\nX")
    assert folded == "acido nandu x"
    assert len(offsets) == len(folded)
    assert offsets[folded.index("n")] == 7 and offsets[-1] == 13


def test_covers_generic_and_components(lexicon: DrugLexicon) -> None:
    assert lexicon.covers("insulina glargina", "insulina")
    assert lexicon.covers("amoxicilina/ácido clavulánico", "amoxicilina")
    assert lexicon.covers("penicilina g benzatina", "penicilina")
    assert not lexicon.covers("amoxicilina", "amoxicilina/ácido clavulánico")
    assert not lexicon.covers("heparina", "warfarina")


def test_parse_rejects_conflicting_variants() -> None:
    rows = "canonical\tvariants\tgroup\tnotes\nparacetamol\tacetaminofén\tanalgésico\t\nmetamizol\tAcetaminofen\tanalgésico\t\n"
    with pytest.raises(ValueError, match="variant of both"):
        DrugLexicon(parse_tsv(rows))


def test_parse_rejects_bad_header_and_uppercase_canonical() -> None:
    with pytest.raises(ValueError, match="header"):
        parse_tsv("nombre\tvariantes\tgrupo\n")
    with pytest.raises(ValueError, match="lowercase"):
        parse_tsv("canonical\tvariants\tgroup\tnotes\nParacetamol\t\tanalgésico\t\n")


_NAMES = sorted((name, entry.canonical) for entry in load_lexicon() for name in (entry.canonical, *entry.variants))


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@given(
    st.lists(
        st.tuples(st.sampled_from(_NAMES), st.sampled_from([str, str.upper, str.title, _strip_accents])),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([". Luego ", "; ", ",\n  ", " (dosis habitual). "]),
)
def test_find_recovers_every_written_name(names: list, filler: str) -> None:
    pieces, spans, position = [], [], len("Indicaciones: ")
    for (name, _), style in names:
        written = unicodedata.normalize("NFC", style(name))
        spans.append((position, position + len(written)))
        pieces.append(written)
        position += len(written) + len(filler)
    text = "Indicaciones: " + filler.join(pieces) + "."
    mentions = load_lexicon().find(text)
    assert [m.canonical for m in mentions] == [canonical for (_, canonical), _ in names]
    assert [(m.start, m.end) for m in mentions] == spans


@given(st.text(alphabet="abcÁÉÍÓÚáéíóúñÑüÜ \n\t.,İß/-0123456789\u0301", max_size=40))
def test_fold_fast_path_matches_the_character_by_character_definition(text: str) -> None:
    from clinical.lexicon import _fold_slow

    assert fold(text) == _fold_slow(text)
