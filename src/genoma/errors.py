"""The genoma error hierarchy.

Every error carries the process exit code the CLI uses for it (see ``docs/cli.md``):

====  ==========================================================
code  meaning
====  ==========================================================
0     ok
1     internal error (a bug: please report it)
2     usage error (bad option, bad combination of options)
3     input missing or unreadable
4     malformed input (names the file, the line and the problem)
5     inconsistent input (genome build, samples, overlap)
6     knowledge missing or of the wrong version
7     permission or consent denied
8     partial success (some outputs written, some failed)
====  ==========================================================

Analyses raise these; only the CLI turns them into exit codes.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConsentDeniedError",
    "GenomaError",
    "InconsistentInputError",
    "InputMissingError",
    "KnowledgeError",
    "MalformedInputError",
    "PartialSuccessError",
    "UsageError",
]


class GenomaError(Exception):
    """Base class of every error genoma raises on purpose.

    Parameters
    ----------
    message
        What went wrong, in words a user can act on.
    path
        The file concerned, if any.
    line
        The 1-based line (or record) number in ``path``, if known.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.problem = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        return f"{where}{self.problem}"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (for ``--json`` summaries and the service)."""
        return {
            "error": type(self).__name__,
            "exit_code": self.exit_code,
            "message": self.problem,
            "path": self.path,
            "line": self.line,
        }


class UsageError(GenomaError):
    """Bad command-line usage or an invalid combination of parameters (exit 2)."""

    exit_code = 2


class InputMissingError(GenomaError):
    """An input file does not exist or cannot be read (exit 3)."""

    exit_code = 3


class MalformedInputError(GenomaError):
    """An input file is syntactically or semantically malformed (exit 4)."""

    exit_code = 4


class InconsistentInputError(GenomaError):
    """Inputs do not agree: genome build, sample names, too little overlap (exit 5)."""

    exit_code = 5


class KnowledgeError(GenomaError):
    """A knowledge source is missing, corrupt or of the wrong version (exit 6)."""

    exit_code = 6


class ConsentDeniedError(GenomaError):
    """Permission or consent does not allow the requested use (exit 7)."""

    exit_code = 7


class PartialSuccessError(GenomaError):
    """Some outputs were produced but at least one part failed (exit 8)."""

    exit_code = 8
