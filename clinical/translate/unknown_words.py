"""English for the Spanish words a rule-based translator does not know.

Apertium marks a word missing from its dictionaries (``*hospitalizados``) and, with ``-u``, passes
it through unchanged: Spanish in the middle of English. Medical vocabulary is most of what it
misses, and medical vocabulary is mostly Greek and Latin that English shares. So a word Apertium
marks unknown is looked up, in this order:

1. the single-word disease names of the CIE-10 / ICD-10 join (``bronquitis`` -> bronchitis,
   ``sarampión`` -> measles), from :mod:`clinical.terminology`;
2. suffix rules for regular Spanish -> English cognates (``-ización`` -> ``-ization``,
   ``-ológico`` -> ``-ological``, ``-izados`` -> ``-ized``, ``-encia`` -> ``-ence``, ``-mente`` ->
   ``-ly``...), applied only when a rule matches; the word otherwise stays as written.

Only words Apertium itself marked unknown are touched: a word it translates is its business.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from clinical.terminology import load_cie10

__all__ = ["UNKNOWN", "english_for_unknown", "resolve_unknown"]

UNKNOWN = re.compile(r"\*([^\W\d_][\w-]*)")
"""How Apertium marks an unknown word in its output (without ``-u``)."""

# (Spanish ending, English ending), longest first within a family; the first that matches wins.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("izaciones", "izations"), ("ización", "ization"),
    ("cciones", "ctions"), ("cción", "ction"),
    ("ciones", "tions"), ("ción", "tion"), ("siones", "sions"), ("sión", "sion"),
    ("ológicos", "ological"), ("ológicas", "ological"), ("ológico", "ological"), ("ológica", "ological"),
    ("ólogos", "ologists"), ("ólogas", "ologists"), ("ólogo", "ologist"), ("óloga", "ologist"),
    ("ícos", "ic"), ("ícas", "ic"), ("íco", "ic"),
    ("víricos", "viral"), ("víricas", "viral"), ("vírico", "viral"), ("vírica", "viral"),
    ("izados", "ized"), ("izadas", "ized"), ("izado", "ized"), ("izada", "ized"),
    ("ccioso", "ctious"), ("cciosa", "ctious"), ("cciosos", "ctious"), ("cciosas", "ctious"),
    ("idades", "ities"), ("idad", "ity"),
    ("encias", "ences"), ("encia", "ence"), ("ancias", "ances"), ("ancia", "ance"),
    ("blemente", "bly"), ("lmente", "lly"), ("amente", "ly"), ("mente", "ly"),
    ("áticos", "atic"), ("áticas", "atic"), ("ático", "atic"), ("ática", "atic"),
    ("icos", "ic"), ("icas", "ic"), ("ico", "ic"), ("ica", "ic"),
    ("ismos", "isms"), ("ismo", "ism"),
    ("itis", "itis"), ("osis", "osis"), ("emia", "emia"), ("patía", "pathy"), ("patías", "pathies"),
    ("algia", "algia"), ("ectomía", "ectomy"), ("ectomías", "ectomies"), ("scopia", "scopy"),
    ("grafía", "graphy"), ("grama", "gram"), ("gramas", "grams"),
    ("ivos", "ive"), ("ivas", "ive"), ("ivo", "ive"), ("iva", "ive"),
    ("ales", "al"),
)
# Spelling of Greek and Latin stems: Spanish simplified what English kept.
_STEMS: tuple[tuple[str, str], ...] = (("bronqu", "bronch"), ("quimio", "chemo"), ("psiqu", "psych"),
                                       ("faring", "pharyng"), ("asintom", "asymptom"), ("sintom", "symptom"),
                                       ("epidém", "epidem"), ("pediátr", "pediatr"))


def _plain(text: str) -> str:
    """Accents off (English has none), ñ kept as n."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


@cache
def _disease_words() -> dict[str, str]:
    """Single-word CIE-10 descriptions with a single-word ICD-10 English one (cólera -> cholera)."""
    words: dict[str, str] = {}
    for entry in load_cie10().entries():
        es, en = entry.es.strip(), entry.en.strip()
        if (en and re.fullmatch(r"[^\W\d_]+", es) and re.fullmatch(r"[^\W\d_]+", en)
                and es.lower() not in words):
            words[es.lower()] = en.lower()
    return words


def _cognate(word: str) -> str | None:
    lower = word.lower()
    for spanish, english in _SUFFIXES:
        if lower.endswith(spanish) and len(lower) > len(spanish) + 2:
            stem = lower[: -len(spanish)]
            for es_stem, en_stem in _STEMS:
                if stem.startswith(es_stem):
                    stem = en_stem + stem[len(es_stem):]
                    break
            return _plain(stem) + english
    return None


def english_for_unknown(word: str) -> str:
    """The English for a Spanish word Apertium does not know, in the word's case; the word itself
    when neither the disease names nor a cognate rule give one."""
    # Capitalised words are mostly names (Nidovirales, Politico): only the disease names apply.
    english = _disease_words().get(word.lower()) or (None if word[:1].isupper() else _cognate(word))
    if english is None:
        return word
    if word.isupper() and len(word) > 1:
        return english.upper()
    return english[:1].upper() + english[1:] if word[:1].isupper() else english


def resolve_unknown(text: str, keep: re.Pattern[str] | None = None) -> str:
    """Apertium output with each ``*word`` mark replaced by the word's English (see module doc);
    words matching ``keep`` (protection tokens) only lose their mark."""

    def one(match: re.Match[str]) -> str:
        word = match.group(1)
        if keep is not None and keep.fullmatch(word):
            return word
        return english_for_unknown(word)

    return UNKNOWN.sub(one, text)
