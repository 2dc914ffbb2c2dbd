"""``genoma vault`` and ``genoma audit`` through the CLI runner (exit codes per DESIGN.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from genoma.cli.audit import app as audit_app
from genoma.cli.vault import app as vault_app

root = typer.Typer()
root.add_typer(vault_app, name="vault")
root.add_typer(audit_app, name="audit")
runner = CliRunner()

AUDIT_KEY = "ab" * 32
POLICY = {
    "users": {
        "root": {"roles": ["admin"]},
        "drhouse": {"roles": ["clinician"]},
        "rita": {"roles": ["researcher"]},
    },
    "datasets": {
        "clinic": {"grants": {"role:clinician": ["read", "write"], "role:researcher": ["read"]}}
    },
    "subjects": {"P1": {"consent": {"codes": ["HMB"]}, "care_team": ["drhouse"]}},
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    e = {
        "GENOMA_VAULT_PASSPHRASE": "svc",
        "GENOMA_KEY_PASSPHRASE": "userpw",
        "GENOMA_AUDIT_KEY": AUDIT_KEY,
    }
    for k, v in e.items():
        monkeypatch.setenv(k, v)
    return e


def run(*args: str | Path):
    return runner.invoke(root, [str(a) for a in args])


@pytest.fixture
def vault(tmp_path: Path, env) -> Path:
    v = tmp_path / "vault"
    r = run("vault", "init", v, "--json")
    assert r.exit_code == 0, r.output
    (v / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    return v


def test_full_cli_flow(vault: Path, tmp_path: Path) -> None:
    src = tmp_path / "p1.vcf"
    src.write_bytes(b"##fileformat=VCFv4.2\n" * 5000)
    r = run(
        "vault",
        "put",
        vault,
        src,
        "--dataset",
        "clinic",
        "--subject",
        "P1",
        "--as",
        "drhouse",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["size"] == src.stat().st_size

    r = run("vault", "ls", vault, "--json")
    assert [o["id"] for o in json.loads(r.stdout)["objects"]] == ["p1.vcf"]

    out = tmp_path / "got.vcf"
    r = run(
        "vault", "get", vault, "p1.vcf", "-o", out, "--as", "drhouse", "--purpose", "clinical_care"
    )
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == src.read_bytes()

    # consent mismatch: HMB does not cover ancestry research → exit 7, audited
    r = run(
        "vault",
        "get",
        vault,
        "p1.vcf",
        "-o",
        tmp_path / "x",
        "--as",
        "rita",
        "--purpose",
        "research:ancestry",
    )
    assert r.exit_code == 7 and not (tmp_path / "x").exists()

    # a user key: keygen, register, share, read with own key (no service passphrase)
    assert run("vault", "keygen", tmp_path / "rita.sec", tmp_path / "rita.pub").exit_code == 0
    assert run("vault", "adduser", vault, "rita", tmp_path / "rita.pub").exit_code == 0
    assert (
        run("vault", "share", vault, "p1.vcf", "--to", "rita", "--as", "drhouse").exit_code == 7
    )  # no share grant
    r = run("vault", "share", vault, "p1.vcf", "--to", "rita", "--as", "root", "--json")
    assert r.exit_code == 0, r.output and json.loads(r.stdout)["recipients"] == ["service", "rita"]
    out2 = tmp_path / "rita.vcf"
    r = run(
        "vault",
        "get",
        vault,
        "p1.vcf",
        "-o",
        out2,
        "--as",
        "rita",
        "--purpose",
        "research:health",
        "--key",
        tmp_path / "rita.sec",
    )
    assert r.exit_code == 0, r.output
    assert out2.read_bytes() == src.read_bytes()
    # rita's key does not prove to be drhouse
    r = run(
        "vault",
        "get",
        vault,
        "p1.vcf",
        "-o",
        tmp_path / "y",
        "--as",
        "drhouse",
        "--purpose",
        "clinical_care",
        "--key",
        tmp_path / "rita.sec",
    )
    assert r.exit_code == 7

    assert run("vault", "rotate", vault, "--as", "drhouse").exit_code == 7
    r = run("vault", "rotate", vault, "--as", "root", "--json")
    assert r.exit_code == 0, r.output and json.loads(r.stdout)["objects"] == 1
    r = run("vault", "verify", vault, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"]

    log = vault / "audit.jsonl"
    r = run("audit", "verify", log, "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["ok"] and rep["entries"] == 10
    outcomes = [json.loads(x)["outcome"] for x in log.read_text().splitlines()]
    assert outcomes == [
        "success",
        "success",
        "denied",
        "denied",
        "success",
        "success",
        "denied",
        "denied",
        "success",
        "success",
    ]


def test_verify_detects_tampering_exit_4(vault: Path, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    assert (
        run(
            "vault", "put", vault, src, "--dataset", "clinic", "--subject", "P1", "--as", "drhouse"
        ).exit_code
        == 0
    )
    data = next((vault / "data").iterdir())
    raw = bytearray(data.read_bytes())
    raw[-100] ^= 0xFF
    data.chmod(0o600)
    data.write_bytes(bytes(raw))
    r = run("vault", "verify", vault)
    assert r.exit_code == 4
    r = run(
        "vault",
        "get",
        vault,
        "a.bin",
        "-o",
        tmp_path / "o",
        "--as",
        "drhouse",
        "--purpose",
        "clinical_care",
    )
    assert r.exit_code == 4 and not (tmp_path / "o").exists()


def test_get_without_policy_is_denied(tmp_path: Path, env) -> None:
    v = tmp_path / "v"
    assert run("vault", "init", v).exit_code == 0
    r = run("vault", "get", v, "x", "--as", "a", "--purpose", "self")
    assert r.exit_code == 7


def test_audit_verify_cli_detects_edit_and_truncation(vault: Path, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(b"x")
    for i in range(3):
        assert (
            run(
                "vault",
                "put",
                vault,
                src,
                "--id",
                f"o{i}",
                "--dataset",
                "clinic",
                "--as",
                "drhouse",
            ).exit_code
            == 0
        )
    log = vault / "audit.jsonl"
    anchor = tmp_path / "anchor.json"
    assert run("audit", "anchor", log, "-o", anchor).exit_code == 0
    assert run("audit", "verify", log, "--anchor", anchor).exit_code == 0
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))  # tail truncated
    assert run("audit", "verify", log).exit_code == 0  # invisible without the anchor
    assert run("audit", "verify", log, "--anchor", anchor).exit_code == 4
    log.write_text("".join(lines).replace('"actor":"drhouse"', '"actor":"someone"', 1))
    r = run("audit", "verify", log)
    assert r.exit_code == 4 and "1: entry content edited" in r.output


def test_audit_keygen(tmp_path: Path) -> None:
    k = tmp_path / "audit.key"
    assert run("audit", "keygen", k).exit_code == 0
    assert len(bytes.fromhex(k.read_text().strip())) == 32 and (k.stat().st_mode & 0o777) == 0o600
    assert run("audit", "keygen", k).exit_code == 2


def test_get_to_stdout(vault: Path, tmp_path: Path) -> None:
    src = tmp_path / "small.txt"
    src.write_bytes(b"ACGT" * 100)
    assert (
        run(
            "vault", "put", vault, src, "--dataset", "clinic", "--subject", "P1", "--as", "drhouse"
        ).exit_code
        == 0
    )
    r = run("vault", "get", vault, "small.txt", "--as", "drhouse", "--purpose", "clinical_care")
    assert r.exit_code == 0 and r.stdout_bytes == b"ACGT" * 100
