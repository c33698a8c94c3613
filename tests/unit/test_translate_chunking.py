"""Chunking a de-identified document for translation: nothing lost, no placeholder cut, budget kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinical.deid.placeholders import PLACEHOLDER
from clinical.translate import PAGE_BREAK, ChunkingError, chunk_text, estimate_tokens


def words(text: str) -> int:
    return len(text.split())


WORD = st.sampled_from(["paciente", "HTA", "neumonía", "1", "g", "día.", "fiebre;", "Dr.", "años:", "¿dolor?",
                        "__PHI_NOMBRE_1__", "__PHI_FECHA_12__", "__PHI_ID_3__.", "(__PHI_EDAD_1__)"])
SPACE = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", " \n \n ", "\t", PAGE_BREAK, "\n\f\n", "\u00a0"])


@st.composite
def documents(draw) -> str:
    parts = draw(st.lists(st.tuples(SPACE, WORD), max_size=80))
    return draw(st.sampled_from(["", " ", "\n"])) + "".join(s + w for s, w in parts) + draw(SPACE)


@settings(max_examples=300, deadline=None)
@given(text=documents(), budget=st.integers(min_value=1, max_value=30))
def test_chunks_rejoin_fit_and_never_cut_a_placeholder(text: str, budget: int) -> None:
    chunks = chunk_text(text, words, budget)
    assert "".join(str(c) for c in chunks) == text
    for chunk in chunks:
        assert words(chunk.text) <= budget
        assert chunk.text == chunk.text.strip()
        assert PAGE_BREAK not in chunk.text
        assert text[chunk.start:chunk.start + len(chunk.text)] == chunk.text
    bodies = [(c.start, c.start + len(c.text)) for c in chunks if c.text]
    for match in PLACEHOLDER.finditer(text):
        assert any(s <= match.start() and match.end() <= e for s, e in bodies), match.group()


@settings(max_examples=100, deadline=None)
@given(text=documents(), budget=st.integers(min_value=8, max_value=200))
def test_the_byte_estimate_also_gives_fitting_chunks(text: str, budget: int) -> None:
    chunks = chunk_text(text, estimate_tokens, budget)
    assert "".join(map(str, chunks)) == text
    assert all(estimate_tokens(c.text) <= budget for c in chunks)


def test_paragraphs_are_packed_while_they_fit_and_pages_always_split() -> None:
    text = "EPICRISIS\n\nuno dos tres.\n\ncuatro cinco.\f\nPÁGINA DOS\n\nseis."
    chunks = chunk_text(text, words, 100)
    assert [c.text for c in chunks] == ["EPICRISIS\n\nuno dos tres.\n\ncuatro cinco.", "PÁGINA DOS\n\nseis."]
    assert chunks[0].suffix == "\f\n"
    small = chunk_text(text, words, 4)
    assert [c.text for c in small] == ["EPICRISIS\n\nuno dos tres.", "cuatro cinco.", "PÁGINA DOS\n\nseis."]


def test_a_long_paragraph_is_cut_at_sentences_then_words() -> None:
    text = "Uno dos tres. Cuatro cinco seis siete ocho. Nueve __PHI_NOMBRE_1__ diez."
    chunks = chunk_text(text, words, 3)
    assert [c.text for c in chunks] == ["Uno dos tres.", "Cuatro cinco seis", "siete ocho.", "Nueve __PHI_NOMBRE_1__ diez."]
    assert [c.suffix for c in chunks] == [" ", " ", " ", ""]


def test_whitespace_only_and_empty_documents() -> None:
    assert chunk_text("", words, 5) == []
    (only,) = chunk_text(" \n\f ", words, 5)
    assert (only.prefix, only.text) == (" \n\f ", "")


def test_a_word_over_the_budget_is_a_clear_error() -> None:
    with pytest.raises(ChunkingError, match="single word of 40 tokens .* budget of 8 tokens"):
        chunk_text("corto " + "x" * 120, estimate_tokens, 8)
    with pytest.raises(ValueError, match="at least 1"):
        chunk_text("a", words, 0)
