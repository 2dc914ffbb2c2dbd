"""The ``genoma`` command line: ``genoma <domain> <verb>``. Thin: no logic here.

Sub-commands are registered lazily: ``genoma annotate ...`` imports only the annotate
module (every module costs start-up time on every command). Help, an unknown command and
``from genoma.cli.main import app`` load all of them.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence

import typer

from genoma import __version__

_app = typer.Typer(
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

# Top-level command name -> the module that registers it (a test checks this map
# against what the modules really register).
COMMAND_MODULES: dict[str, str] = {
    "kb": "genoma.cli.kb",
    "pgx": "genoma.cli.pgx",
    "analyze": "genoma.cli.analyze",
    "demo": "genoma.cli.analyze",
    "annotate": "genoma.cli.annotate",
    "rare": "genoma.cli.rare",
    "cohort": "genoma.cli.cohort",
    "risk": "genoma.cli.risk",
    "vault": "genoma.cli.vault",
    "audit": "genoma.cli.audit",
    "serve": "genoma.cli.serve",
}

_loaded: set[str] = set()


@_app.callback()
def _root(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logs (-v, -vv)."),
) -> None:
    """genoma: precision medicine where AI meets genomics."""
    from genoma.cli._common import setup_logging

    setup_logging(verbose)


@_app.command()
def version() -> None:
    """Print the genoma version."""
    typer.echo(f"genoma {__version__}")


def _load(module: str, name: str) -> None:
    if module in _loaded:
        return
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return
        raise
    _loaded.add(module)
    if hasattr(mod, "register"):
        mod.register(_app)
    else:
        _app.add_typer(mod.app, name=name)


def _load_subcommands(only: str | None = None) -> typer.Typer:
    """Register every sub-command module, or only ``only``; return the app."""
    for module, name in SUBCOMMANDS:
        if only is None or module == only:
            _load(module, name)
    return _app


def _command_of(argv: Sequence[str]) -> str | None:
    """The top-level command in ``argv`` (root options are flags without values)."""
    for arg in argv:
        if arg in ("--", "--help", "-h"):  # root help lists every command
            return None
        if not arg.startswith("-"):
            return arg
    return None


def __getattr__(name: str) -> typer.Typer:
    # ``from genoma.cli.main import app``: the whole command line, every module loaded.
    if name == "app":
        return _load_subcommands()
    raise AttributeError(name)


def main() -> None:
    """Entry point of the ``genoma`` script."""
    import sys

    from genoma.errors import GenomaError

    command = _command_of(sys.argv[1:])
    if command == "version":
        app = _app
    elif command in COMMAND_MODULES:
        app = _load_subcommands(only=COMMAND_MODULES[command])
    else:
        app = _load_subcommands()
    try:
        app()
    except GenomaError as err:  # commands normally handle these themselves
        from genoma.cli._common import console

        console.print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)


def run() -> None:
    """Entry point of the ``genoma`` console script: :func:`main`, then a fast exit.

    Once the command has returned (its outputs written and renamed into place), the
    interpreter's own teardown — freeing the few hundred thousand objects of NumPy,
    pandas, Dask, Numba and the like one by one — costs ≈ 0.3–0.4 s of wall time per
    run (measured on ``genoma cohort gwas``) and does nothing the process needs. So the
    script flushes standard output and error, shuts logging down, runs the ``atexit``
    handlers (temporary directories, multiprocessing, Dask clusters) and leaves with
    :func:`os._exit`. The exit code is the command's (``SystemExit`` code; a message
    code is printed to standard error with code 1, as Python does). Non-daemon threads are
    joined first, as the normal exit does; an uncaught exception takes the normal path
    (traceback, exit 1). :func:`main` itself never exits this way, so it can be called
    in-process.
    """

    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    _fast_exit(code)


def _fast_exit(code: object) -> None:
    """Exit with ``code`` without the interpreter's teardown (see :func:`run`)."""
    import atexit
    import logging
    import os
    import sys
    import threading

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    # what the interpreter's exit does first, in its order: join the non-daemon threads
    # (after threading's own exit hooks, e.g. idle thread-pool workers told to stop),
    # then the atexit handlers (logging.shutdown is one)
    join_threads = getattr(threading, "_shutdown", None)
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if join_threads is None or run_exitfuncs is None:  # not CPython: exit normally
        sys.exit(status)
    try:
        join_threads()
        run_exitfuncs()
        logging.shutdown()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed or broken pipe: nothing more to say
                pass
    os._exit(status)


if __name__ == "__main__":
    run()
