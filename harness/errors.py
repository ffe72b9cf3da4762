"""The one error type the CLI turns into a single clear line and exit code 2."""


class HarnessError(Exception):
    """Bad input or an unusable environment: what was wrong, where, and what to do.

    The message is shown to the user as is, on one line, so write it as a sentence that names
    the file (and line) at fault and the fix.
    """
