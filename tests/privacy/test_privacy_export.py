"""De-identified, pseudonymised research export: library rules and ``genoma vault
export`` / ``genoma vault reidentify`` through the CLI runner."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pysam
import pytest
import typer
import yaml
from typer.testing import CliRunner

from genoma.cli.audit import app as audit_app
from genoma.cli.vault import app as vault_app
from genoma.privacy.audit import verify_log
from genoma.privacy.pseudonym import Pseudonymiser, deidentify_vcf, scrub_text

KEY = b"k" * 32
VCF = """##fileformat=VCFv4.2
##fileDate=20240101
##source=caller run by jdoe on /home/jdoe/P1
##reference=file:///home/jdoe/refs/GRCh38_full_analysis_set.fa
##SAMPLE=<ID=P1,Description="Jane Roe, born 1970-01-01">
##contig=<ID=chr1,length=248956422,assembly=/home/jdoe/ref.fa,URL=file:///srv/x>
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth (from /data/run_2024-03-05/P1.bam)">
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=MLEAC,Number=A,Type=Integer,Description="ML allele count">
##FILTER=<ID=lowq,Description="Low quality; contact ops@hospital.example.org">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	P1	P2	P3	P4
chr1	100	rs1	A	G	50	PASS	DP=40;AC=4;AN=8;AF=0.5;MLEAC=4	GT	0/1	0/1	0/1	0/1
chr1	200	rs2	C	T	50	PASS	DP=40;AC=1;AN=8;AF=0.125;MLEAC=1	GT	0/1	0/0	0/0	0/0
chr1	300	.	G	A	50	PASS	DP=40;AC=2;AN=8;AF=0.25;MLEAC=2	GT	0/0	0/0	0/0	1/1
chr1	400	.	T	C,G	50	PASS	DP=40;AC=3,1;AN=8;AF=0.375,0.125;MLEAC=3,1	GT	1/1	0/1	0/0	0/2
chr1	500	.	A	T	50	PASS	DP=40;AC=3;AN=6;AF=0.5;MLEAC=3	GT	./.	1/1	0/1	0/0
"""


def _vcf(tmp_path: Path) -> Path:
    p = tmp_path / "cohort.vcf"
    p.write_text(VCF)
    return p


# ---------------------------------------------------------------- library


def test_scrub_text() -> None:
    assert scrub_text("Depth (from /data/run/P1.bam)") == "Depth (from <path>)"
    assert scrub_text("run 2024-03-05 and 20240305") == "run <date> and <date>"
    assert scrub_text("ask a.b@x.org") == "ask <email>"
    assert scrub_text("ref/alt reads, 0.5/1.0") == "ref/alt reads, 0.5/1.0"  # not paths


def test_header_scrubbed_and_build_kept(tmp_path: Path) -> None:
    ps = Pseudonymiser(KEY, study="s")
    res = deidentify_vcf(_vcf(tmp_path), tmp_path / "o.vcf", ps)
    text = (tmp_path / "o.vcf").read_text()
    for leak in ("jdoe", "Jane", "/home", "/data", "/srv", "fileDate", "2024", "hospital", "P1\t"):
        assert leak not in text, leak
    assert "##reference=GRCh38_full_analysis_set.fa" in text
    assert "##contig=<ID=chr1,length=248956422>" in text  # lengths identify the build
    assert 'Description="Depth (from <path>)"' in text
    assert res.scrubbed_header_values >= 4 and res.records == 5
    assert res.recomputed_info == []  # all samples exported: AC/AN/AF stay as they are


def test_subset_recomputes_allele_counts_and_drops_cohort_summaries(tmp_path: Path) -> None:
    ps = Pseudonymiser(KEY, study="s")
    res = deidentify_vcf(_vcf(tmp_path), tmp_path / "o.vcf", ps, samples=["P1", "P2"])
    assert res.recomputed_info == ["AC", "AN", "AF"] and "MLEAC" in res.dropped_info
    with pysam.VariantFile(str(tmp_path / "o.vcf")) as vf:
        recs = {r.pos: r for r in vf}
        assert "MLEAC" not in vf.header.info
    assert recs[100].info["AC"] == (2,) and recs[100].info["AN"] == 4
    assert recs[100].info["AF"] == pytest.approx((0.5,))
    assert recs[300].info["AC"] == (0,)  # carried only by excluded P4 (min_ac not set)
    assert recs[400].info["AC"] == (3, 0)
    assert recs[500].info["AN"] == 2 and recs[500].info["AC"] == (2,)  # ./. not counted


@pytest.mark.parametrize(
    ("samples", "min_ac", "kept"),
    [
        (None, None, [100, 200, 300, 400, 500]),
        (None, 2, [100, 300, 500]),  # rs2 singleton, 400's G singleton
        (["P1", "P2", "P3"], 1, [100, 200, 500]),  # 300 (only P4) and 400 (G only in P4)
        (["P1", "P2", "P3"], 3, [100, 500]),
    ],
)
def test_min_ac_drops_rare_and_absent_variants(
    tmp_path: Path, samples: list[str] | None, min_ac: int | None, kept: list[int]
) -> None:
    ps = Pseudonymiser(KEY, study="s")
    out = tmp_path / "o.vcf.gz"
    res = deidentify_vcf(_vcf(tmp_path), out, ps, samples=samples, min_ac=min_ac)
    with pysam.VariantFile(str(out)) as vf:
        assert [r.pos for r in vf] == kept
    assert res.records == len(kept) and res.dropped_rare == 5 - len(kept)


# ---------------------------------------------------------------- CLI

root = typer.Typer()
root.add_typer(vault_app, name="vault")
root.add_typer(audit_app, name="audit")
runner = CliRunner()
AUDIT_KEY = "ab" * 32
PSEUDO_KEY = "cd" * 32
POLICY = {
    "users": {
        "root": {"roles": ["admin"]},
        "rita": {"roles": ["researcher"], "institution": "EPFL", "region": "EU"},
        "drhouse": {"roles": ["clinician"]},
    },
    "datasets": {
        "cohort": {"grants": {"role:researcher": ["read", "export"], "role:clinician": ["write"]}}
    },
    "subjects": {
        "P1": {"consent": {"codes": ["GRU", "IRB"]}},  # any research, with ethics approval
        "P2": {"consent": {"codes": ["HMB"]}},
        "P3": {"consent": {"codes": ["DS"], "diseases": ["MONDO:0005148"]}},
        # P4: no consent on record
    },
}


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for k, v in {
        "GENOMA_VAULT_PASSPHRASE": "svc",
        "GENOMA_AUDIT_KEY": AUDIT_KEY,
        "GENOMA_PSEUDONYM_KEY": PSEUDO_KEY,
    }.items():
        monkeypatch.setenv(k, v)
    v = tmp_path / "vault"
    assert runner.invoke(root, ["vault", "init", str(v)]).exit_code == 0
    (v / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    src = _vcf(tmp_path)
    r = runner.invoke(
        root, ["vault", "put", str(v), str(src), "--dataset", "cohort", "--as", "drhouse"]
    )
    assert r.exit_code == 0, r.output
    return v


def run(*args: str | Path):
    return runner.invoke(root, [str(a) for a in args])


def _audit(vault: Path) -> list[dict]:
    return [json.loads(x) for x in (vault / "audit.jsonl").read_text().splitlines()]


def test_cli_export_from_vault_object_consent_checked(vault: Path, tmp_path: Path) -> None:
    out, mapping = tmp_path / "export.vcf.gz", tmp_path / "study1.map"
    r = run(
        "vault", "export", vault, "cohort.vcf", "-o", out, "--as", "rita", "--study", "study1",
        "--mapping", mapping, "--purpose", "research:health", "--irb", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["samples_exported"] == 2 and summary["samples_excluded"] == 2
    assert "P3" not in r.stdout and "P4" not in r.stdout  # who declined is not shown
    ps = Pseudonymiser.load_mapping(mapping, bytes.fromhex(PSEUDO_KEY), "study1")
    with pysam.VariantFile(str(out)) as vf:
        names = list(vf.header.samples)
        positions = [rec.pos for rec in vf]
    assert [ps.reidentify(n) for n in names] == ["P1", "P2"]
    assert positions == [100, 200, 500]  # default --min-ac 1: 300 only P4's, 400's G only P4's
    text = gzip.decompress(out.read_bytes()).decode()
    assert "jdoe" not in text and "P1" not in text and "P4" not in text
    assert not list(tmp_path.glob(".export*")) and not list(tmp_path.glob(".*.part"))
    last = _audit(vault)[-1]
    assert (last["actor"], last["action"], last["outcome"], last["resource"]) == (
        "rita", "export", "success", "vault:cohort.vcf",
    )  # fmt: skip
    assert verify_log(vault / "audit.jsonl", bytes.fromhex(AUDIT_KEY)).ok

    # same study, second export: same pseudonyms (mapping extended, not replaced)
    out2 = tmp_path / "e2.vcf"
    r = run(
        "vault", "export", vault, "cohort.vcf", "-o", out2, "--as", "rita", "--study", "study1",
        "--mapping", mapping, "--purpose", "research:health", "--irb", "--min-ac", "2",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with pysam.VariantFile(str(out2)) as vf:
        assert list(vf.header.samples)[:2] == names
        assert [rec.pos for rec in vf] == [100, 500]
    r = run(
        "vault", "export", vault, "cohort.vcf", "-o", out2, "--as", "rita", "--study", "study1",
        "--mapping", mapping,
    )  # fmt: skip
    assert r.exit_code == 2  # exists, no --force


def test_cli_export_denials_are_exit_7_and_audited(vault: Path, tmp_path: Path) -> None:
    out, mapping = tmp_path / "x.vcf", tmp_path / "m.map"
    base = ["--study", "s", "--mapping", mapping, "-o", out]
    r = run(
        "vault",
        "export",
        vault,
        "cohort.vcf",
        "--as",
        "rita",
        "--purpose",
        "research:ancestry",
        *base,
    )
    assert r.exit_code == 7  # no --irb for P1; HMB, DS, no consent: no ancestry research
    r = run("vault", "export", vault, "cohort.vcf", "--as", "drhouse", *base)
    assert r.exit_code == 7  # clinicians have no export grant
    r = run(
        "vault", "export", vault, "cohort.vcf", "--as", "rita", "--purpose", "clinical_use", *base
    )
    assert r.exit_code == 7  # exports are research only
    assert not out.exists() and not mapping.exists()
    assert [e["outcome"] for e in _audit(vault)[-3:]] == ["denied"] * 3


def test_cli_export_plain_file_and_wrong_pseudonym_key(vault: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "m.map"
    args = ["--as", "rita", "--study", "s", "--mapping", mapping, "--file", "--irb"]
    r = run("vault", "export", vault, _vcf(tmp_path), "-o", tmp_path / "a.vcf", *args)
    assert r.exit_code == 2  # --dataset needed for a plain file
    r = run(
        "vault",
        "export",
        vault,
        tmp_path / "cohort.vcf",
        "-o",
        tmp_path / "a.vcf",
        *args,
        "-d",
        "cohort",
    )
    assert r.exit_code == 0, r.output
    assert _audit(vault)[-1]["resource"] == "file:cohort.vcf"
    other = tmp_path / "other.key"
    other.write_text("ef" * 32)
    r = run(
        "vault", "export", vault, tmp_path / "cohort.vcf", "-o", tmp_path / "b.vcf", *args,
        "-d", "cohort", "--pseudonym-key", other,
    )  # fmt: skip
    assert r.exit_code == 7  # the mapping does not open with another key
    assert not (tmp_path / "b.vcf").exists()


def test_cli_reidentify_key_holder_with_admin_only(vault: Path, tmp_path: Path) -> None:
    out, mapping = tmp_path / "e.vcf", tmp_path / "m.map"
    r = run(
        "vault", "export", vault, "cohort.vcf", "-o", out, "--as", "rita", "--study", "s",
        "--mapping", mapping, "--purpose", "research:health", "--irb",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with pysam.VariantFile(str(out)) as vf:
        pseudo = list(vf.header.samples)
    base = ["--mapping", mapping, "--study", "s", "-d", "cohort", "--reason", "incidental finding"]
    r = run("vault", "reidentify", vault, *pseudo, "--as", "root", *base, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["samples"] == dict(zip(pseudo, ["P1", "P2"], strict=True))
    r = run("vault", "reidentify", vault, pseudo[0], "--as", "rita", *base)
    assert r.exit_code == 7 and "P1" not in r.output  # researchers cannot reverse
    other = tmp_path / "other.key"
    other.write_text("ef" * 32)
    r = run(
        "vault", "reidentify", vault, pseudo[0], "--as", "root", *base, "--pseudonym-key", other
    )
    assert r.exit_code == 7  # the admin role without the key is not enough
    entries = _audit(vault)[-3:]
    assert [e["outcome"] for e in entries] == ["success", "denied", "failure"]
    assert all("P1" not in json.dumps(e) for e in entries)  # identities not logged
    assert verify_log(vault / "audit.jsonl", bytes.fromhex(AUDIT_KEY)).ok
