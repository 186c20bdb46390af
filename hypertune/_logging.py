"""The ``hypertune`` logger: one line per event on stderr, safe beside a progress bar."""

from __future__ import annotations

import logging

LOGGER_NAME = "hypertune"


class _TqdmHandler(logging.Handler):
    """Writes through ``tqdm.write`` so log lines do not break a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        import sys

        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # a logging handler must never raise
            self.handleError(record)


def get_logger(module: str) -> logging.Logger:
    """The logger for a hypertune module (``hypertune.study``, ...)."""
    return logging.getLogger(module if module.startswith(LOGGER_NAME) else LOGGER_NAME)


def configure(verbosity: int) -> None:
    """Send hypertune's log to stderr: -1 warnings only, 0 info, 1 and up debug."""
    logger = logging.getLogger(LOGGER_NAME)
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    logger.setLevel(level)
    if not any(isinstance(h, _TqdmHandler) for h in logger.handlers):
        handler = _TqdmHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.propagate = False
