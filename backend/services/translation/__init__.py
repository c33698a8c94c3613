"""Translation in the backend: one service over :mod:`clinical.translate`, the configured engines
(through the one fallback chain), the database chunk cache, stored translations and jobs.

- :mod:`.service`: :class:`TranslationService`, the one entry point (limits, now-or-job,
  de-identification once);
- :mod:`.engines`: the engines that translate, as the pipeline's ``complete``, in fallback order;
- :mod:`.cache`: de-identified chunk translations in ``translation_cache``;
- :mod:`.store`: ``translation_jobs`` rows (status, result, audit);
- :mod:`.jobs`: the job runner built at start-up.
"""

from backend.services.translation.engines import (
    HOW_TO_CONFIGURE,
    TASK,
    count_tokens_for,
    engine_complete,
    translate_with_engines,
    translation_engines,
)
from backend.services.translation.jobs import JobRunner
from backend.services.translation.service import Submission, Submitted, TranslationService
from backend.services.translation.store import Outcome, Source

__all__ = [
    "HOW_TO_CONFIGURE",
    "TASK",
    "JobRunner",
    "Outcome",
    "Source",
    "Submission",
    "Submitted",
    "TranslationService",
    "count_tokens_for",
    "engine_complete",
    "translate_with_engines",
    "translation_engines",
]
