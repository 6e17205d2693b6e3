"""The one error type the CLI turns into a one-line message and a non-zero exit."""


class SelbenchError(Exception):
    """A user-facing error: bad input, missing data, or an invalid configuration.

    The CLI prints ``selbench: error: <message>`` on one line and exits with status 2.
    """
