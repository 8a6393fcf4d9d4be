"""The exceptions bpnet raises.

Every handled failure is a :class:`BpnetError`; its ``exit_code`` is the one the
CLI exits with (README, "Exit codes"). The library never prints: the CLI turns
these into one line ``Error: <message>`` on stderr.
"""


class BpnetError(Exception):
    """Base class: a failure while working (exit code 1)."""

    exit_code = 1


class InputError(BpnetError):
    """Bad input given by the user: a config, data file, checkpoint or image (exit 2)."""

    exit_code = 2


class ConfigError(InputError):
    """A config file or ``--set`` override is malformed or out of range; ``key`` is the
    ``section.key`` at fault, where there is one."""

    def __init__(self, message, key=None):
        super().__init__(message)
        self.key = key


class DataError(InputError):
    """A data file is missing, truncated, malformed or not the dataset it claims to be."""


class CheckpointError(InputError):
    """A checkpoint cannot be read or does not describe a valid network."""


class ImageError(InputError):
    """An image cannot be read or is not usable as a digit."""


class DownloadError(BpnetError):
    """Every mirror failed (exit 1). ``reasons`` holds one line per attempt."""

    def __init__(self, message, reasons=()):
        super().__init__(message)
        self.reasons = list(reasons)


class DivergedError(BpnetError):
    """The loss became NaN or infinite during training (exit 1)."""


class Interrupted(BpnetError):
    """Training was stopped by SIGINT or SIGTERM after saving ``checkpoint``.

    The exit code is 128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM.
    """

    def __init__(self, message, signum, checkpoint=None):
        super().__init__(message)
        self.exit_code = 128 + int(signum)
        self.checkpoint = checkpoint
