"""The one user-facing error type.

Everything a user can fix is raised as `BsError` with a message that names the
thing and the fix; the CLI turns it into that message and an exit status in
one place (`bs.cli.main`). Anything else is a bug and is reported as one.
"""

from __future__ import annotations

#: Exit status for an error the user can fix (bad input, missing thing).
EXIT_USER_ERROR = 1
#: Exit status for an internal error (a bug in bs); see the log it points to.
EXIT_INTERNAL_ERROR = 70


class BsError(Exception):
    """An error with a message meant for the person running bs."""

    def __init__(self, message: str, *, exit_code: int = EXIT_USER_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message
