"""A PHI span: where a recogniser found protected health information in a text, and what kind."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PhiSpan"]


@dataclass(frozen=True, order=True)
class PhiSpan:
    """``text[start:end]`` is PHI of MEDDOCAN type ``type`` (end exclusive).

    The span holds offsets only, never the text itself, so that logging or printing a span cannot
    leak PHI. ``source`` names the recogniser that found it (``"crf"``, ``"rut"``, ...);
    ``validated`` is true when a check digit confirmed it, which gives it precedence when spans
    overlap.
    """

    start: int
    end: int
    type: str
    source: str = ""
    validated: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"PHI span needs 0 <= start < end, got {self.start}..{self.end}")

    def __len__(self) -> int:
        return self.end - self.start

    def overlaps(self, other: PhiSpan) -> bool:
        return self.start < other.end and other.start < self.end
