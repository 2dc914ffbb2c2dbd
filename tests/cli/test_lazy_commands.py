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


def _script(*args: str, extra: str = "") -> subprocess.CompletedProcess:
    code = f"import sys; sys.argv = ['genoma', *{list(args)!r}]\n{extra}" \
           "from genoma.cli.main import run\nrun()\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_script_fast_exit_keeps_output_code_and_atexit(tmp_path) -> None:
    """The console-script path (``run``) exits with the command's code, after its output
    and the atexit handlers (the interpreter teardown alone is skipped)."""
    ok = _script("version")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip()
    marker = tmp_path / "atexit.txt"
    hook = (f"import atexit, pathlib; atexit.register(pathlib.Path({str(marker)!r})"
            ".write_text, 'ran')\n")
    missing = _script("annotate", str(tmp_path / "absent.vcf.gz"), "--fasta",
                      str(tmp_path / "absent.fa"), "--transcripts", str(tmp_path / "absent.gff3"),
                      "-o", str(tmp_path / "out.vcf.gz"), extra=hook)
    assert missing.returncode == 3, missing.stdout + missing.stderr  # input missing
    assert marker.read_text() == "ran"
    usage = _script("cohort", "gwas")  # required options missing: click's usage error
    assert usage.returncode == 2


def test_fast_exit_message_code(tmp_path) -> None:
    code = "from genoma.cli.main import _fast_exit\n_fast_exit('stopped: reason')\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1 and "stopped: reason" in out.stderr


def test_model_package_exports_load_lazily() -> None:
    """``genoma.model`` names load on first use; importing a submodule builds no models."""
    code = ("import sys, genoma.model.cohort\n"
            "print('genoma.model.findings' in sys.modules)\n"
            "import genoma.model as m\n"
            "assert sorted(m.__all__) == sorted(m._EXPORTS)\n"
            "for name in m.__all__:\n"
            "    assert getattr(m, name).__name__ == name\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "ok"]


def test_fast_exit_joins_running_threads(tmp_path) -> None:
    """A non-daemon thread still working when the command returns finishes first."""
    marker = tmp_path / "thread.txt"
    hook = ("import threading, time, pathlib\n"
            f"def work():\n    time.sleep(0.3)\n    pathlib.Path({str(marker)!r}).write_text('done')\n"
            "threading.Thread(target=work).start()\n")
    out = _script("version", extra=hook)
    assert out.returncode == 0, out.stderr
    assert marker.read_text() == "done"
