"""What every CLI command shares: logging, error handling, JSON summaries, run dirs."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from genoma.errors import GenomaError

__all__ = ["console", "emit_json", "fail", "handle_errors", "samples_option", "setup_logging"]

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def setup_logging(verbose: int = 0, logfile: Path | None = None) -> None:
    """Human logs on stderr (rich); optional plain log file (``run.log``)."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(logging.DEBUG)
    h = RichHandler(console=console, show_path=False, level=level)
    root.addHandler(h)
    if logfile is not None:
        fh = logging.FileHandler(logfile, encoding="utf-8")
        fh.setLevel(logging.INFO)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)


def fail(err: GenomaError) -> None:
    """Print a GenomaError for a person and exit with its code."""
    console.print(f"[bold red]error[/]: {escape(str(err))}", highlight=False, soft_wrap=True)
    raise typer.Exit(err.exit_code)


def handle_errors(func: F) -> F:
    """Decorator for commands: GenomaError → message on stderr + its exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GenomaError as err:
            fail(err)

    return wrapper  # type: ignore[return-value]


def emit_json(summary: dict[str, Any]) -> None:
    """The ``--json`` summary: one JSON document on stdout."""
    sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    sys.stdout.flush()


def samples_option(samples: str | None, samples_file: Path | None) -> list[str] | None:
    """Resolve ``-s A,B`` / ``-S FILE`` (as bcftools) into a sample list."""
    from genoma.errors import UsageError
    from genoma.io.vcf import read_sample_list

    if samples and samples_file:
        raise UsageError("give either -s or -S, not both")
    if samples:
        return [s for s in samples.split(",") if s]
    if samples_file:
        return read_sample_list(samples_file)
    return None
