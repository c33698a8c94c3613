"""The placeholder grammar ``__PHI_<TYPE>_<n>__``, shared by the anonymizer, de-anonymizer and checker."""

from __future__ import annotations

import re

__all__ = ["LOOSE_PLACEHOLDER", "PLACEHOLDER", "PREFIX", "make_placeholder"]

PREFIX = "__PHI_"
# TYPE has no underscore and n no leading zero, so a placeholder can be parsed without ambiguity
# even when glued to text or to another placeholder ("__PHI_FECHA_1____PHI_EDAD_2__").
PLACEHOLDER = re.compile(r"__PHI_([A-Z]+)_([1-9]\d*)__")
# What a translation model may make of a placeholder: case changed, underscores lost or
# doubled, spaces inserted, the type translated. Anything this matches that PLACEHOLDER does not
# is reported as altered.
LOOSE_PLACEHOLDER = re.compile(r"(?i)(?<![^\W_])_*[ \t]*phi[ \t]*_+[ \t]*[^\W\d_]+[ \t_]*\d+[ \t]*_*|__PHI_\w*")


def make_placeholder(type_: str, number: int) -> str:
    """``__PHI_NOMBRE_1__`` for ``("NOMBRE", 1)``."""
    return f"{PREFIX}{type_}_{number}__"
