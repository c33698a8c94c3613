"""The mapping from placeholders back to the PHI they replace: what the caller keeps server-side."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PhiMapping"]


@dataclass(frozen=True)
class PhiMapping:
    """Placeholder -> original text, with each placeholder's MEDDOCAN type and occurrence count.

    ``counts`` is how many times each placeholder occurs in the de-identified text, so a
    translation can be checked for placeholders lost or duplicated. The mapping is PHI itself:
    keep it server-side (never in a prompt, a cache or a log); ``repr`` shows counts only.
    """

    originals: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.originals)

    def __contains__(self, placeholder: object) -> bool:
        return placeholder in self.originals

    def __repr__(self) -> str:
        by_type = Counter(self.types.values())
        return f"PhiMapping({len(self)} placeholders, {sum(self.counts.values())} occurrences, types={dict(by_type)})"

    def original(self, placeholder: str) -> str:
        """The text a placeholder stands for (``KeyError`` if it is not one of this mapping's)."""
        return self.originals[placeholder]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form, for storing next to the job that needs it."""
        return {
            "placeholders": [
                {"placeholder": p, "type": self.types[p], "original": o, "count": self.counts.get(p, 0)}
                for p, o in self.originals.items()
            ]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhiMapping:
        """The inverse of :meth:`to_dict`."""
        items = data.get("placeholders")
        if not isinstance(items, list):
            raise ValueError("PHI mapping: expected {'placeholders': [...]} as written by PhiMapping.to_dict()")
        originals, types, counts = {}, {}, {}
        for item in items:
            placeholder = item["placeholder"]
            originals[placeholder] = item["original"]
            types[placeholder] = item["type"]
            counts[placeholder] = int(item.get("count", 0))
        return cls(originals, types, counts)
