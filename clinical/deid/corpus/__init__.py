"""Offline corpus tooling: BRAT files, scoring, cross-validation and the ``python -m clinical.deid``
commands. The server never imports this package."""
