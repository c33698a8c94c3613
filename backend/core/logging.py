"""Logging set-up for the entry points: request ids and counts, never patient data."""

from __future__ import annotations

import logging
import logging.config


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["stderr"], "level": level},
        # uvicorn's access log prints query strings (?patient=<RUT>): Alta logs its own access
        # line from the request-id middleware, with the path template only.
        "loggers": {"uvicorn.access": {"level": "WARNING", "propagate": False, "handlers": []}},
    })
