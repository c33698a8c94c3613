"""Checking a model's output (a translation) for the placeholders its input had, before re-identifying."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from clinical.deid.mapping import PhiMapping
from clinical.deid.placeholders import LOOSE_PLACEHOLDER, PLACEHOLDER

__all__ = ["PlaceholderReport", "check_placeholders"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlaceholderReport:
    """What went wrong with the placeholders of a translated text; ``ok`` when nothing did.

    - ``missing``: placeholders of the source that occur fewer times in the output (with the
      number missing): PHI would silently be lost from the document;
    - ``duplicated``: placeholders that occur more times than in the source (with the surplus):
      the model invented a mention;
    - ``unknown``: well-formed placeholders the source did not have;
    - ``altered``: fragments that look like a damaged placeholder (``__PHI_NOMBRE_1_``,
      ``__phi_nombre_1__``, ``__PHI_NAME_1__``): re-identification could not restore them.

    Placeholders are not PHI, so the report can be logged and shown in an error message.
    """

    missing: dict[str, int]
    duplicated: dict[str, int]
    unknown: tuple[str, ...]
    altered: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.unknown or self.altered)

    def describe(self) -> str:
        """One line for a log or an error message: what is wrong, or ``placeholders ok``."""
        if self.ok:
            return "placeholders ok"
        problems = []
        if self.missing:
            problems.append("missing " + ", ".join(f"{p} (x{n})" for p, n in self.missing.items()))
        if self.duplicated:
            problems.append("duplicated " + ", ".join(f"{p} (+{n})" for p, n in self.duplicated.items()))
        if self.unknown:
            problems.append("unknown " + ", ".join(self.unknown))
        if self.altered:
            problems.append("altered " + ", ".join(repr(a) for a in self.altered))
        return "; ".join(problems)

    def __str__(self) -> str:
        return self.describe()


def check_placeholders(translated: str, expected: str | PhiMapping) -> PlaceholderReport:
    """Compare the placeholders of ``translated`` with those expected.

    ``expected`` is the de-identified source the translation was made from (a chunk: its own
    placeholders and counts are expected), or the :class:`PhiMapping` of a whole document (each
    placeholder as many times as the mapping counted). Each placeholder must come back exactly as
    many times as it was sent, no more, no fewer, and nothing placeholder-like may be damaged.
    """
    if isinstance(expected, PhiMapping):
        wanted = Counter({p: n for p, n in expected.counts.items() if n})
    else:
        wanted = Counter(m.group() for m in PLACEHOLDER.finditer(expected))
    found = Counter(m.group() for m in PLACEHOLDER.finditer(translated))

    missing = {p: n - found[p] for p, n in wanted.items() if found[p] < n}
    duplicated = {p: found[p] - n for p, n in wanted.items() if found[p] > n}
    unknown = tuple(sorted(p for p in found if p not in wanted))

    # Blank out the well-formed placeholders, then look for anything still placeholder-like.
    blanked = PLACEHOLDER.sub(lambda m: " " * len(m.group()), translated)
    altered = tuple(m.group().strip() for m in LOOSE_PLACEHOLDER.finditer(blanked))

    report = PlaceholderReport(missing, duplicated, unknown, altered)
    if not report.ok:
        logger.info("placeholder check failed: %d missing, %d duplicated, %d unknown, %d altered",
                    len(missing), len(duplicated), len(unknown), len(altered))
    return report
