"""genoma kb list | verify | install through the CLI runner."""

from __future__ import annotations

import json

import pytest
from test_kb_install import make_mirror
from typer.testing import CliRunner

from genoma.cli.main import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GENOMA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GENOMA_KB_MIRROR", raising=False)
    from genoma.kb import base

    base.reset_cache()


def test_list_json_and_table(home):
    res = runner.invoke(app, ["kb", "list", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)["sources"]}
    assert {"hpo", "genes", "1kg-peddy", "gencode-grch37"} <= set(rows)
    assert rows["hpo"]["status"] == "embedded"
    assert rows["gencode-grch37"]["status"] == "missing"
    assert rows["1kg-peddy"]["builds"] == ["GRCh37", "GRCh38"]
    assert rows["hpo"]["license"]
    res = runner.invoke(app, ["kb", "list"])
    assert res.exit_code == 0 and "1kg-peddy" in res.stdout


def test_verify_ok_and_failures(home):
    res = runner.invoke(app, ["kb", "verify", "hpo", "genes", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["failed"] == 0 and {v["name"] for v in out["verified"]} == {"hpo", "genes"}
    assert runner.invoke(app, ["kb", "verify", "gencode-grch37"]).exit_code == 6
    assert runner.invoke(app, ["kb", "verify", "nonexistent"]).exit_code == 6


def test_install_then_list_then_bad_checksum(home, tmp_path):
    mirror, digest = make_mirror(tmp_path / "mirror", "gencode-grch37")
    res = runner.invoke(
        app, ["kb", "install", "gencode-grch37", "--mirror", mirror, "--sha256", digest, "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["installed"]["sha256"] == digest
    rows = {
        r["name"]: r
        for r in json.loads(runner.invoke(app, ["kb", "list", "--json"]).stdout)["sources"]
    }
    assert rows["gencode-grch37"]["status"] == "installed"
    assert rows["gencode-grch37"]["version"] == "46lift37"
    assert runner.invoke(app, ["kb", "verify", "gencode-grch37"]).exit_code == 0
    res = runner.invoke(
        app,
        ["kb", "install", "gencode-grch37", "--mirror", mirror, "--sha256", "0" * 64, "--force"],
    )
    assert res.exit_code == 6
    assert "checksum mismatch" in res.stderr
    # the earlier good install survives a failed forced re-install
    assert runner.invoke(app, ["kb", "verify", "gencode-grch37"]).exit_code == 0
