"""Realistic surrogates (invented PHI of the same kind) for training and demo corpora."""

from clinical.deid.surrogates.operator import SurrogateOperator, SurrogateResult

__all__ = ["SurrogateOperator", "SurrogateResult"]
