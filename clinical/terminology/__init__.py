"""Clinical terminology vendored as data: the Spanish CIE-10 joined with the English WHO ICD-10.

Serving reads ``data/cie10.tsv`` only; ``python -m clinical.terminology build`` rebuilds it from the
registry packages in the ``terminology`` extra (see ``data/README.md`` for sources and licences).
"""

from clinical.terminology.cie10 import CIE10_PATH, Cie10, Cie10Entry, load_cie10, normalise_code

__all__ = ["CIE10_PATH", "Cie10", "Cie10Entry", "load_cie10", "normalise_code"]
