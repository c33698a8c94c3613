"""Check digits of the patient identifiers Latin-American and Spanish hospitals use.

A mistyped identifier attaches a discharge summary to the wrong patient, so formats with a check
digit are verified. Messages say what is wrong and never repeat the value (it is PHI).
"""

from __future__ import annotations

import re

_RUT = re.compile(r"^(\d{1,3}(?:\.?\d{3}){0,2})-?([\dkK])$")
_CURP = re.compile(
    r"^[A-Z][AEIOUX][A-Z]{2}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[HMX]"
    r"(?:AS|BC|BS|CC|CL|CM|CS|CH|DF|DG|GT|GR|HG|JC|MC|MN|MS|NT|NL|OC|PL|QT|QR|SP|SL|SR|TC|TS|TL|VZ|YN|ZS|NE)"
    r"[B-DF-HJ-NP-TV-Z]{3}[0-9A-Z]\d$"
)
_CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def rut_check_digit(body: str) -> str:
    """Chilean RUT/RUN check digit (modulo 11, weights 2..7 from the right)."""
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(body)))
    rest = 11 - total % 11
    return {11: "0", 10: "K"}.get(rest, str(rest))


def curp_check_digit(first17: str) -> str:
    total = sum(_CURP_ALPHABET.index(c) * (18 - i) for i, c in enumerate(first17))
    return str((10 - total % 10) % 10)


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def check_identifier(kind: str, value: str) -> str | None:
    """None when ``value`` is a valid identifier of ``kind``, else what is wrong with it."""
    value = value.strip().upper()
    if kind == "RUT":
        m = _RUT.match(value)
        if not m:
            return "RUT format: digits, a hyphen and the check digit, e.g. 12.345.678-5"
        body = m.group(1).replace(".", "")
        if rut_check_digit(body) != m.group(2).upper():
            return "RUT check digit does not match; re-read the RUT from the patient's document"
    elif kind == "CURP":
        if not _CURP.match(value):
            return "CURP format: 18 characters, 4 letters, birth date YYMMDD, sex, state, 3 consonants, 2 check characters"
        if curp_check_digit(value[:17]) != value[17]:
            return "CURP check digit does not match; re-read the CURP"
    elif kind == "NSS":
        if not re.fullmatch(r"\d{11}", value):
            return "NSS format: 11 digits"
        if luhn_check_digit(value[:10]) != value[10]:
            return "NSS check digit does not match; re-read the NSS"
    elif kind == "DNI":
        if not re.fullmatch(r"\d{8}[A-Z]", value):
            return "DNI format: 8 digits and a letter"
        if _DNI_LETTERS[int(value[:8]) % 23] != value[8]:
            return "DNI letter does not match the number"
    elif kind == "NIE":
        if not re.fullmatch(r"[XYZ]\d{7}[A-Z]", value):
            return "NIE format: X, Y or Z, 7 digits and a letter"
        number = "XYZ".index(value[0]) * 10_000_000 + int(value[1:8])
        if _DNI_LETTERS[number % 23] != value[8]:
            return "NIE letter does not match the number"
    return None
