"""The ``genoma`` command line: ``genoma <domain> <verb>``. Thin: no logic here."""

from __future__ import annotations

import importlib
import logging

import typer

from genoma import __version__

app = typer.Typer(
    name="genoma",
    help="genoma: precision medicine where AI meets genomics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_log = logging.getLogger("genoma")

# Sub-applications (module, attribute, name). Each module defines a typer.Typer `app`
# or a function `register(app)` that adds top-level commands.
SUBCOMMANDS: list[tuple[str, str]] = [
    ("genoma.cli.kb", "kb"),
    ("genoma.cli.pgx", "pgx"),
    ("genoma.cli.analyze", ""),
    ("genoma.cli.annotate", ""),
    ("genoma.cli.rare", ""),
    ("genoma.cli.cohort", "cohort"),
    ("genoma.cli.risk", "risk"),
    ("genoma.cli.vault", "vault"),
    ("genoma.cli.audit", "audit"),
    ("genoma.cli.serve", ""),
]


@app.callback()
def _root(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logs (-v, -vv)."),
) -> None:
    """genoma: precision medicine where AI meets genomics."""
    from genoma.cli._common import setup_logging

    setup_logging(verbose)


@app.command()
def version() -> None:
    """Print the genoma version."""
    typer.echo(f"genoma {__version__}")


def _load_subcommands() -> None:
    for module, name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        if hasattr(mod, "register"):
            mod.register(app)
        else:
            app.add_typer(mod.app, name=name)


_load_subcommands()


def main() -> None:
    """Entry point of the ``genoma`` script."""
    import sys

    from genoma.errors import GenomaError

    try:
        app()
    except GenomaError as err:  # commands normally handle these themselves
        from genoma.cli._common import console

        console.print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
