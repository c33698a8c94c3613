"""The vendored CIE-10 / ICD-10 table and its loader."""

from __future__ import annotations

import dataclasses

import pytest

from clinical.terminology import Cie10, Cie10Entry, load_cie10, normalise_code
from clinical.terminology.build import join, write_tsv
from clinical.terminology.cie10 import read_cie10


def test_codes_are_found_with_or_without_the_dot() -> None:
    table = load_cie10()
    for code in ("J189", "J18.9", "j18.9", " J18.9 "):
        entry = table.get(code)
        assert entry == Cie10Entry("J18.9", "Neumonía, no especificada", "Pneumonia, unspecified")


def test_three_character_categories_have_no_dot() -> None:
    entry = load_cie10().get("I10")
    assert entry is not None
    assert entry.code == "I10"
    assert entry.es.startswith("Hipertensión esencial")
    assert entry.en == "Essential (primary) hypertension"


def test_unknown_or_malformed_codes_give_none() -> None:
    table = load_cie10()
    assert table.get("Z99.99.9") is None
    assert table.get("A00-B99") is None
    assert table.get("") is None
    assert table.get("neumonía") is None


def test_the_table_is_large_and_mostly_bilingual() -> None:
    entries = list(load_cie10().entries())
    assert len(entries) > 14_000
    assert sum(1 for entry in entries if entry.en) > 12_000
    assert all(normalise_code(entry.code) == entry.code for entry in entries)
    assert all(entry.es and "\t" not in entry.es and "\t" not in entry.en for entry in entries)
    assert len({entry.code for entry in entries}) == len(entries)


def test_loader_is_cached_and_entries_are_frozen() -> None:
    assert load_cie10() is load_cie10()
    entry = load_cie10().get("E11.9")
    assert entry is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.es = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("J189", "J18.9"), ("I10", "I10"), ("u071", "U07.1"), ("S72.001", "S72.001"), ("J18.", None), ("12", None)],
)
def test_normalise_code(raw: str, expected: str | None) -> None:
    assert normalise_code(raw) == expected


def test_join_keeps_the_first_spanish_description_and_english_where_who_has_it(tmp_path) -> None:
    spanish = [("J18.9", "Neumonía, no especificada"), ("J18.9", "otra"), ("U07.1", "COVID-19\tvirus")]
    entries = join(spanish, {"J18.9": "Pneumonia, unspecified"})
    assert entries == [
        Cie10Entry("J18.9", "Neumonía, no especificada", "Pneumonia, unspecified"),
        Cie10Entry("U07.1", "COVID-19 virus", ""),
    ]
    path = tmp_path / "cie10.tsv"
    assert write_tsv(entries, path) == 2
    table: Cie10 = read_cie10(path)
    assert list(table.entries()) == entries
    assert table.get("U071") == entries[1]


def test_a_code_written_with_its_spanish_description_is_found() -> None:
    from clinical.terminology.coded import find_coded_descriptions

    text = "Dg: J18.9 Neumonía, no especificada. I10 - Hipertensión esencial (primaria); E11.9 otra cosa. J189"
    found = [(text[c.start:c.end], c.entry.en) for c in find_coded_descriptions(text)]
    assert found == [("Neumonía, no especificada", "Pneumonia, unspecified"),
                     ("Hipertensión esencial (primaria)", "Essential (primary) hypertension")]


def test_the_rule_based_engine_writes_the_icd10_english_description() -> None:
    from clinical.translate.protect import protect, restore

    protected = protect("J18.9 Neumonía, no especificada.")
    assert restore(protected.text, protected) == "J18.9 Pneumonia, unspecified."
