"""The one error type the CLI turns into a single clear line and exit code 2."""


class HarnessError(Exception):
    """Bad input or an unusable environment: what was wrong, where, and what to do.

    The message is shown to the user as is, on one line, so write it as a sentence that names
    the file (and line) at fault and the fix.
    """


class HarnessWarning(UserWarning):
    """Something the harness repaired or worked around and the user should know (e.g. a torn
    last line in samples.jsonl after a crash); the CLI shows it as one `warning:` line on stderr."""
