"""Lazy sub-command registration: the command → module map is the truth of the modules."""

from __future__ import annotations

import subprocess
import sys

import typer
from typer.main import get_command

from genoma.cli import main as cli_main


def _registered_names(module: str, name: str) -> set[str]:
    """Top-level command names ``module`` adds to a fresh app."""
    import importlib

    mod = importlib.import_module(module)
    fresh = typer.Typer()

    @fresh.command("placeholder")
    def _placeholder() -> None:  # a group needs two commands to list names
        """Placeholder."""

    if hasattr(mod, "register"):
        mod.register(fresh)
    else:
        fresh.add_typer(mod.app, name=name)
    return set(get_command(fresh).commands) - {"placeholder"}  # type: ignore[attr-defined]


def test_command_map_matches_modules() -> None:
    expected: dict[str, str] = {}
    for module, name in cli_main.SUBCOMMANDS:
        for command in _registered_names(module, name):
            expected[command] = module
    assert cli_main.COMMAND_MODULES == expected


def test_command_of_skips_root_flags() -> None:
    assert cli_main._command_of(["-vv", "annotate", "x.vcf"]) == "annotate"
    assert cli_main._command_of(["--verbose", "cohort", "gwas"]) == "cohort"
    assert cli_main._command_of(["--help"]) is None
    assert cli_main._command_of(["--help", "annotate"]) is None
    assert cli_main._command_of(["annotate", "--help"]) == "annotate"
    assert cli_main._command_of([]) is None


def test_one_command_imports_only_its_module() -> None:
    code = (
        "import sys; sys.argv = ['genoma', 'annotate', '--help']\n"
        "from genoma.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('genoma.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().splitlines()[-1]
    assert "genoma.cli.annotate" in loaded
    for other in ("genoma.cli.cohort", "genoma.cli.serve", "genoma.cli.pgx", "genoma.cli.risk"):
        assert other not in loaded


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "genoma.cli.main", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    for command in cli_main.COMMAND_MODULES:
        assert command in out.stdout
