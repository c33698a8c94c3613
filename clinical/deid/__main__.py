"""``python -m clinical.deid``: the corpus commands (:mod:`clinical.deid.corpus.cli`)."""

import sys

from clinical.deid.corpus.cli import main

if __name__ == "__main__":
    sys.exit(main())
