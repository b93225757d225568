"""The root of every error the project raises on purpose.

Each error also keeps the builtin base that says what kind of mistake it is (`ConfigError(MonitoringError,
ValueError)`), so callers can catch either. Its message is one line that names the table, column, key or row at
fault and what to do; the command line prints it as is, without a traceback.
"""


class MonitoringError(Exception):
    """A refusal or a problem in the user's data, config or request, explained in one line."""


class MissingInputError(MonitoringError, LookupError):
    """Something a step or a command reads is not there yet; the message says what to run first."""


class MissingTableError(MissingInputError, FileNotFoundError):
    """A table the team provides (a prediction log, a label table) is not where the config says."""
