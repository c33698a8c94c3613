"""Synthetic Chilean and Mexican patients: names from the name pools and valid RUT, CURP, NSS and NHC.

Check digits come from :mod:`clinical.identifiers`, so every value passes the record's validation,
and the parts that carry meaning are realistic: a RUT's size follows the birth year (they were handed
out in sequence), a CURP is built from the name, birth date, sex and a state as RENAPO builds it.
"""

from __future__ import annotations

import datetime as dt
import random
import string
import unicodedata
from typing import Any

from clinical.identifiers import curp_check_digit, luhn_check_digit, rut_check_digit
from training.data.catalog.entries import Catalog

__all__ = ["curp", "nhc", "nss", "patient", "rut"]

_PARTICLES = {"DE", "DEL", "LA", "LAS", "LOS", "Y", "MC", "MAC", "VAN", "VON", "DA", "DAS", "DI", "DER"}
_FIRST_SKIPPED = {"MARIA", "MA", "JOSE", "J"}  # the CURP takes the second given name after these
_STATES = "AS BC BS CC CL CM CS CH DF DG GT GR HG JC MC MN MS NT NL OC PL QT QR SP SL SR TC TS TL VZ YN ZS".split()
# Four-letter heads RENAPO does not issue: the second letter becomes X.
_RUDE = {"BACA", "BUEY", "CACA", "CAGA", "CAGO", "COGE", "COJO", "CULO", "FETO", "GUEY", "JOTO", "KACA", "KAKA",
         "MAME", "MAMO", "MEAR", "MION", "MOCO", "MULA", "PEDO", "PENE", "PUTA", "PUTO", "RATA", "RUIN"}


def rut(rng: random.Random, born_year: int) -> str:
    """A Chilean RUT whose size fits the birth year, with or without thousands dots."""
    body = min(27_500_000, max(1_000_000, 3_000_000 + (born_year - 1935) * 270_000 + rng.randint(-500_000, 500_000)))
    text = f"{body:,}".replace(",", ".") if rng.random() < 0.7 else str(body)
    return f"{text}-{rut_check_digit(str(body))}"


def _plain(name: str) -> list[str]:
    """Name words as the CURP writes them: uppercase, Ñ as X, no accents, no particles."""
    text = unicodedata.normalize("NFD", name.upper().replace("Ñ", "X"))
    words = "".join(c for c in text if c in string.ascii_uppercase or c == " ").split()
    return [w for w in words if w not in _PARTICLES] or ["X"]


def curp(rng: random.Random, given: str, paternal: str, maternal: str, born: dt.date, sex: str) -> str:
    """A Mexican CURP for this name, birth date and sex ("F", "M" or "X"), with its check digit."""
    names = _plain(given)
    first = names[1] if len(names) > 1 and names[0] in _FIRST_SKIPPED else names[0]
    pat, mat = _plain(paternal)[0], _plain(maternal)[0]
    vowel = next((c for c in pat[1:] if c in "AEIOU"), "X")
    head = pat[0] + vowel + mat[0] + first[0]
    head = head[0] + "X" + head[2:] if head in _RUDE else head
    inner = "".join(next((c for c in w[1:] if c not in "AEIOU"), "X") for w in (pat, mat, first))
    diff = str(rng.randint(0, 9)) if born.year < 2000 else rng.choice(string.ascii_uppercase)
    letter = {"M": "H", "F": "M"}.get(sex, "X")  # hombre, mujer, no binario
    body = f"{head}{born:%y%m%d}{letter}{rng.choice(_STATES)}{inner}{diff}"
    return body + curp_check_digit(body)


def nss(rng: random.Random, born: dt.date, today: dt.date) -> str:
    """An IMSS social-security number: subdelegation, year registered, birth year, serial, Luhn digit."""
    registered = min(today.year, born.year + rng.randint(16, 30)) % 100
    first10 = f"{rng.randint(1, 99):02d}{registered:02d}{born.year % 100:02d}{rng.randint(0, 9999):04d}"
    return first10 + luhn_check_digit(first10)


def nhc(rng: random.Random) -> str:
    """A hospital clinical-record number (número de ficha / expediente): no check digit."""
    return str(rng.randint(100_000, 2_999_999))


def patient(rng: random.Random, catalog: Catalog, *, country: str, sex: str, born: dt.date, age: int,
            today: dt.date, brief: bool = False) -> dict[str, Any]:
    """The ``patient`` object of a record: name, sex, birth date and/or age, identifiers of the country.

    ``brief`` keeps fewer identifiers (compact records). Newborns always have a birth date, since
    their age is written in days.
    """
    pool = "female" if sex == "F" else "male" if sex == "M" else rng.choice(("female", "male"))
    names = catalog.names[(country, pool)]
    given = rng.choice(names)
    if " " not in given and rng.random() < 0.3:
        given += " " + rng.choice([n for n in names if " " not in n and n != given])
    paternal, maternal = rng.sample(catalog.names[(country, "surname")], 2)
    record: dict[str, Any] = {"name": f"{given} {paternal} {maternal}", "sex": sex, "identifiers": []}
    style = "birth_date" if age == 0 else rng.choices(["birth_date", "age_years", "both"], [7, 2, 1])[0]
    if style != "age_years":
        record["birth_date"] = born.isoformat()
    if style != "birth_date":
        record["age_years"] = age
    ids = record["identifiers"]
    if country == "CL" and rng.random() < 0.97:
        ids.append({"type": "RUT", "value": rut(rng, born.year)})
    if country == "MX" and rng.random() < 0.85:
        ids.append({"type": "CURP", "value": curp(rng, given, paternal, maternal, born, sex)})
    if country == "MX" and age >= 16 and rng.random() < (0.2 if brief else 0.5):
        ids.append({"type": "NSS", "value": nss(rng, born, today)})
    if rng.random() < (0.15 if brief else 0.45):
        ids.append({"type": "NHC", "value": nhc(rng)})
    return record
