"""``genoma vault share --revoke --rekey`` and ``genoma vault rekey`` through the CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from genoma.cli.vault import app as vault_app
from genoma.errors import ConsentDeniedError
from genoma.privacy.audit import verify_log
from genoma.privacy.keys import load_private_key
from genoma.privacy.vault import Vault

root = typer.Typer()
root.add_typer(vault_app, name="vault")
runner = CliRunner()
AUDIT_KEY = "ab" * 32
POLICY = {
    "users": {
        "root": {"roles": ["admin"]},
        "drhouse": {"roles": ["clinician"]},
        "alice": {"roles": ["clinician"]},
    },
    "datasets": {"clinic": {"grants": {"role:clinician": ["read", "write"]}}},
    "subjects": {},
}


def run(*args: str | Path):
    return runner.invoke(root, [str(a) for a in args])


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENOMA_VAULT_PASSPHRASE", "svc")
    monkeypatch.setenv("GENOMA_KEY_PASSPHRASE", "alicepw")
    monkeypatch.setenv("GENOMA_AUDIT_KEY", AUDIT_KEY)
    v = tmp_path / "vault"
    assert run("vault", "init", v).exit_code == 0
    (v / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    assert run("vault", "keygen", tmp_path / "a.sec", tmp_path / "a.pub").exit_code == 0
    assert run("vault", "adduser", v, "alice", tmp_path / "a.pub").exit_code == 0
    src = tmp_path / "g.vcf"
    src.write_bytes(b"##fileformat=VCFv4.2\n" * 10000)
    r = run("vault", "put", v, src, "-d", "clinic", "--as", "drhouse", "--to", "alice")
    assert r.exit_code == 0, r.output
    return v


def test_revoke_rekey_changes_data_key_and_is_audited(vault: Path, tmp_path: Path) -> None:
    before = Vault(vault).manifest("g.vcf")
    alice = load_private_key(tmp_path / "a.sec", "alicepw")
    assert Vault(vault).read_bytes("g.vcf", key=alice).startswith(b"##fileformat")
    r = run("vault", "share", vault, "g.vcf", "--to", "alice", "--rekey", "--as", "root")
    assert r.exit_code == 2  # --rekey only with --revoke
    r = run(
        "vault", "share", vault, "g.vcf", "--to", "alice", "--revoke", "--rekey", "--as", "root",
        "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["action"] == "revoke+rekey" and out["recipients"] == ["service"]
    after = Vault(vault).manifest("g.vcf")
    assert after.seal_sha256 != before.seal_sha256 and after.sha256 == before.sha256
    with pytest.raises(ConsentDeniedError):  # no header packet for alice any more
        Vault(vault).read_bytes("g.vcf", key=alice)
    entries = [json.loads(x) for x in (vault / "audit.jsonl").read_text().splitlines()]
    assert any(e["detail"] == "revoke+rekey alice" and e["outcome"] == "success" for e in entries)
    assert verify_log(vault / "audit.jsonl", bytes.fromhex(AUDIT_KEY)).ok


def test_rekey_command(vault: Path) -> None:
    before = Vault(vault).manifest("g.vcf")
    r = run("vault", "rekey", vault, "g.vcf", "--as", "root", "--json")
    assert r.exit_code == 0, r.output
    after = Vault(vault, "svc").manifest("g.vcf")
    assert after.seal_sha256 != before.seal_sha256 and after.version == before.version + 1
    assert [x.name for x in after.recipients] == ["service", "alice"]
    assert all(v.ok for v in Vault(vault, "svc").verify())
    r = run("vault", "rekey", vault, "g.vcf", "--as", "alice")
    assert r.exit_code == 7  # share permission needed (clinicians: read/write only)
