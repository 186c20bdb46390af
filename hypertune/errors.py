"""The exceptions hypertune raises, each carrying the exit code the CLI uses for it.

Bad input (a template, a data file, a params file, a command-line value) exits with 2; a failure
of the environment (an unreachable tracking server, a full disk) or of a whole study exits with 1.
"""

from __future__ import annotations


class HypertuneError(Exception):
    """Base class of every error hypertune reports to a user as one line."""

    exit_code = 1


class BadInputError(HypertuneError):
    """Something the user gave hypertune is wrong; the message says what and how to fix it."""

    exit_code = 2


class TemplateError(BadInputError):
    """A template that cannot be compiled, pointing at ``file:line:col``."""

    def __init__(self, message: str, path: str = "<template>", line: int = 0, col: int = 0):
        self.path = path
        self.line = line
        self.col = col
        self.reason = message
        super().__init__(f"{path}:{line}:{col + 1}: {message}")


class DataError(BadInputError):
    """A data file that is missing, unreadable or not shaped like MNIST."""


class ParamsError(BadInputError):
    """Hyperparameter values that do not fit a template's search space."""


class StudyNotFoundError(BadInputError):
    """A study, or a run, that the tracking store does not hold."""


class StudyBusyError(HypertuneError):
    """Another live process is running the same study."""


class TrackingError(HypertuneError):
    """The MLflow tracking store cannot be reached or written."""


class StudyFailedError(HypertuneError):
    """A study stopped because its trials failed."""
