"""Realistic surrogates: PHI replaced by invented values of the same kind, for training data.

Placeholders keep PHI away from a model at run time; surrogates are for building training or demo
corpora that read like real documents. The replacement is deterministic for a given seed and
consistent within a document (the same name is the same invented name everywhere), dates move by
one offset per document (so intervals between them are kept), and identifiers are regenerated
with valid check digits in the original layout. The sex of the patient and relationship words
("madre", "hija") are kept: they are not identifying on their own and changing them would break
the clinical text's grammar and meaning.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from clinical.deid.recognizers.rfc import rfc_check_digit, rfc_is_valid
from clinical.deid.span import PhiSpan
from clinical.deid.surrogates import data
from clinical.identifiers import check_identifier, curp_check_digit, luhn_check_digit, rut_check_digit

__all__ = ["SurrogateOperator", "SurrogateResult"]

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_CONSONANTS = "BCDFGHJKLMNPQRSTVWXYZ"
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{2}|\d{4})")
_MONTH = re.compile(r"(?i)\b(" + "|".join(data.MONTHS) + r")\b")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_DAY = re.compile(r"\b\d{1,2}\b(?=\s+de\b)")


@dataclass(frozen=True)
class SurrogateResult:
    """The text with surrogates, and where each surrogate now is (same types as the input spans)."""

    text: str
    spans: tuple[PhiSpan, ...]


class SurrogateOperator:
    """Replaces PHI spans by invented values; ``seed`` makes the output reproducible."""

    def __init__(self, seed: int = 0, max_shift_days: int = 365):
        self.seed = seed
        self.max_shift_days = max_shift_days

    def apply(self, text: str, spans: Iterable[PhiSpan]) -> SurrogateResult:
        rng = random.Random(self.seed)
        shift = rng.randint(-self.max_shift_days, self.max_shift_days) or 1
        memo: dict[tuple[str, str], str] = {}
        parts: list[str] = []
        new_spans: list[PhiSpan] = []
        position = 0
        length = 0
        for span in sorted(spans):
            if span.start < position:
                raise ValueError("spans overlap; merge them first (clinical.deid.span_merger.merge_spans)")
            original = text[span.start:span.end]
            key = (span.type, original)
            if key not in memo:
                memo[key] = self._surrogate(span, original, rng, shift)
            replacement = memo[key]
            before = text[position:span.start]
            parts += [before, replacement]
            length += len(before)
            new_spans.append(PhiSpan(length, length + len(replacement), span.type, span.source))
            length += len(replacement)
            position = span.end
        parts.append(text[position:])
        return SurrogateResult("".join(parts), tuple(new_spans))

    # --- one value ------------------------------------------------------------------------

    def _surrogate(self, span: PhiSpan, value: str, rng: random.Random, shift: int) -> str:
        kind = span.type
        if kind in ("NOMBRE_SUJETO_ASISTENCIA", "NOMBRE_PERSONAL_SANITARIO"):
            return _cased(value, _name(value, rng))
        if kind == "FAMILIARES_SUJETO_ASISTENCIA":
            return _cased(value, _name(value, rng)) if value[:1].isupper() else value
        if kind == "FECHAS":
            return _shift_date(value, shift)
        if kind == "EDAD_SUJETO_ASISTENCIA":
            return re.sub(r"\d+", lambda m: str(max(1, int(m.group()) + rng.randint(-3, 3))), value, count=1)
        if kind == "CALLE":
            return f"{rng.choice(data.STREETS)} {rng.randint(1, 2999)}"
        if kind == "TERRITORIO":
            return _digits(value, rng) if any(c.isdigit() for c in value) else rng.choice(data.CITIES)
        if kind == "PAIS":
            return rng.choice(data.COUNTRIES)
        if kind == "HOSPITAL":
            return rng.choice(data.HOSPITALS)
        if kind in ("INSTITUCION", "CENTRO_SALUD"):
            return rng.choice(data.INSTITUTIONS)
        if kind == "PROFESION":
            return rng.choice(data.PROFESSIONS)
        if kind == "CORREO_ELECTRONICO":
            user = _ascii(f"{rng.choice(data.GIVEN_NAMES)[0]}{rng.choice(data.SURNAMES)}").lower()
            return f"{user}{rng.randint(1, 99)}@{rng.choice(data.EMAIL_DOMAINS)}"
        if kind == "URL_WEB":
            return f"https://www.{rng.choice(data.EMAIL_DOMAINS)}/{rng.randint(100, 999)}"
        if kind in ("NUMERO_TELEFONO", "NUMERO_FAX"):
            return value[:1] + _digits(value[1:], rng) if value[:1].isdigit() else _digits(value, rng)
        if kind in ("SEXO_SUJETO_ASISTENCIA",):
            return value
        if kind.startswith(("ID_", "IDENTIF_", "NUMERO_", "OTRO_NUMERO")):
            return _identifier(value, span.source, rng)
        return _digits(value, rng) if any(c.isdigit() for c in value) else value


def _name(value: str, rng: random.Random) -> str:
    """A given name, followed by as many surnames as ``value`` has further words."""
    words = len(value.split())
    return " ".join([rng.choice(data.GIVEN_NAMES), *(rng.choice(data.SURNAMES) for _ in range(words - 1))])


def _cased(original: str, replacement: str) -> str:
    return replacement.upper() if original.isupper() and len(original) > 1 else replacement


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if c.isascii() and c.isalnum())


def _digits(value: str, rng: random.Random) -> str:
    """Every digit replaced by a random one, every letter by a random letter of the same case."""
    out = []
    for char in value:
        if char.isdigit():
            out.append(str(rng.randint(0, 9)))
        elif char.isalpha() and char.isascii():
            letter = rng.choice(string.ascii_uppercase)
            out.append(letter if char.isupper() else letter.lower())
        else:
            out.append(char)
    return "".join(out)


def _relayout(original: str, compact: str) -> str:
    """``compact``'s characters in ``original``'s layout (its dots, hyphens and spaces kept)."""
    chars = iter(compact)
    return "".join(next(chars) if c.isalnum() else c for c in original)


def _identifier(value: str, source: str, rng: random.Random) -> str:
    """A new identifier of the same kind and layout, valid where the kind has a check digit."""
    compact = re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if source == "rut" or ("-" in value and check_identifier("RUT", value) is None):
        body = "".join(str(rng.randint(0, 9)) for _ in range(len(compact) - 1))
        body = str(rng.randint(1, 9)) + body[1:]
        return _relayout(value, body + rut_check_digit(body))
    if source == "curp" or check_identifier("CURP", compact) is None:
        first = (rng.choice(_CONSONANTS) + rng.choice("AEIOU") + rng.choice(_CONSONANTS) * 2
                 + f"{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                 + rng.choice("HM") + rng.choice(data.CURP_STATES)
                 + "".join(rng.choice(_CONSONANTS) for _ in range(3)) + rng.choice("0A"))
        return _relayout(value, first + curp_check_digit(first))
    if source == "rfc" or rfc_is_valid(value):
        letters = 4 if len(compact) == 13 else 3
        first = ("".join(rng.choice(string.ascii_uppercase) for _ in range(letters))
                 + f"{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                 + rng.choice(_CONSONANTS) + str(rng.randint(0, 9)))
        return _relayout(value, first + rfc_check_digit(first))
    if source == "nss" or (len(compact) == 11 and check_identifier("NSS", compact) is None):
        first = "".join(str(rng.randint(0, 9)) for _ in range(10))
        return _relayout(value, first + luhn_check_digit(first))
    if source == "dni" or check_identifier("DNI", compact) is None:
        number = rng.randint(10_000_000, 99_999_999)
        return _relayout(value, f"{number}{_DNI_LETTERS[number % 23]}")
    if source == "nie" or check_identifier("NIE", compact) is None:
        prefix = rng.randint(0, 2)
        number = rng.randint(0, 9_999_999)
        letter = _DNI_LETTERS[(prefix * 10_000_000 + number) % 23]
        return _relayout(value, f"{'XYZ'[prefix]}{number:07d}{letter}")
    return _digits(value, rng)


def _shift_date(value: str, days: int) -> str:
    """``value`` moved by ``days``, written the way it was (separators, widths, month words)."""
    numeric = _NUMERIC_DATE.fullmatch(value.strip())
    if numeric:
        day, sep, month, year = numeric.groups()
        full_year = int(year) if len(year) == 4 else (2000 + int(year) if int(year) < 50 else 1900 + int(year))
        try:
            moved = dt.date(full_year, int(month), int(day)) + dt.timedelta(days=days)
        except ValueError:
            return value
        return (f"{moved.day:0{len(day)}d}{sep}{moved.month:0{len(month)}d}{sep}"
                + (f"{moved.year}" if len(year) == 4 else f"{moved.year % 100:02d}"))
    month = _MONTH.search(value)
    year = _YEAR.search(value)
    day = _DAY.search(value)
    if not (month or year):
        return value
    base = dt.date(int(year.group()) if year else 2000,
                   data.MONTHS.index(month.group(1).lower()) + 1 if month else 6,
                   min(int(day.group()), 28) if day else 15)
    moved = base + dt.timedelta(days=days)
    out = value
    if year:
        out = _YEAR.sub(str(moved.year), out, count=1)
    if month:
        name = data.MONTHS[moved.month - 1]
        name = name.capitalize() if month.group(1)[0].isupper() else name
        out = _MONTH.sub(name, out, count=1)
    if day:
        out = _DAY.sub(str(moved.day), out, count=1)
    return out
