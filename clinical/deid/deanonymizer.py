"""The de-anonymizer: puts the original PHI back in place of the placeholders."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from clinical.deid.mapping import PhiMapping
from clinical.deid.placeholders import PLACEHOLDER

__all__ = ["Deanonymizer", "UnknownPlaceholderError"]

logger = logging.getLogger(__name__)


class UnknownPlaceholderError(ValueError):
    """A text holds a placeholder its mapping does not know (an altered or invented one)."""


class Deanonymizer:
    """Replaces every ``__PHI_<TYPE>_<n>__`` with its original; the exact inverse of the anonymizer.

    For the anonymizer's own output this restores the input byte for byte. For a model's output
    (a translation), check it first with :func:`clinical.deid.check_placeholders`: by default an
    unknown placeholder raises rather than being left in the text for a reader to puzzle over.
    """

    def deanonymize(self, text: str, mapping: PhiMapping, strict: bool = True,
                    render: Callable[[str, str], str] | None = None) -> str:
        """``text`` with its placeholders replaced; ``render(type, original)``, when given, writes
        each original as the output needs it (a translation's dates in English), else as it was."""
        unknown = 0

        def restore(match: re.Match[str]) -> str:
            nonlocal unknown
            original = mapping.originals.get(match.group())
            if original is None:
                unknown += 1
                return match.group()
            return render(match.group(1), original) if render is not None else original

        restored = PLACEHOLDER.sub(restore, text)
        if unknown:
            if strict:
                raise UnknownPlaceholderError(
                    f"{unknown} placeholder(s) in the text are not in the mapping; check the text with "
                    "clinical.deid.check_placeholders() before re-identifying, or pass strict=False"
                )
            logger.warning("left %d unknown placeholder(s) in place", unknown)
        return restored
