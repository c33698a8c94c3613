"""The statistical recogniser: a linear-chain CRF over token features, its tokenizer, BIO labels,
the boundary fixes for its spans, and its (offline) training."""
