"""Sex check (X-chromosome F, SNPSEX, STATUS) equals plink 1.9 --check-sex."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genoma.analyses.cohort.qc import parse_sex, sex_check, x_nonpar_mask
from genoma.cli.main import app
from genoma.errors import InconsistentInputError, MalformedInputError
from genoma.io.vcz import import_vcfs, open_cohort

from conftest import require_shared

PLINK19 = shutil.which("plink1.9") or shutil.which("plink")
N_F, N_M, V = 60, 60, 200
PAR1_END_38 = 2_781_479


def _plink19() -> str:
    if PLINK19 is None:
        pytest.skip("plink1.9 not installed (apt-get install -y plink1.9): comparison skipped")
    return PLINK19


def _sig4(x: np.ndarray) -> np.ndarray:
    """Round to 4 significant digits, as plink 1.9 prints F."""
    return np.array([float(f"{v:.4g}") for v in x])


def _write_x_vcf(path: Path, samples: list[str], pos: np.ndarray, calls: list[list[str]]) -> Path:
    import pysam

    head = ["##fileformat=VCFv4.2",
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            "##contig=<ID=chr1,length=248956422>", "##contig=<ID=chrX,length=156040895>",
            "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                       *samples])]
    body = ["\t".join(["chrX", str(int(p)), f"x{i}", "A", "G", ".", "PASS", ".", "GT", *c])
            for i, (p, c) in enumerate(zip(pos, calls, strict=True))]
    plain = path.with_suffix("")
    plain.write_text("\n".join(head + body) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


@pytest.fixture(scope="module")
def xcohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Females diploid, males haploid on non-PAR X; 4 sex-swapped labels; 10 PAR variants."""
    rng = np.random.default_rng(3)
    d = tmp_path_factory.mktemp("sexcheck")
    samples = [f"F{i:02d}" for i in range(N_F)] + [f"M{i:02d}" for i in range(N_M)]
    true_sex = np.array([2] * N_F + [1] * N_M)
    reported = true_sex.copy()
    reported[[3, 7]] = 1       # two females reported male
    reported[[N_F + 1, N_F + 5]] = 2  # two males reported female
    reported[10] = 0           # unknown
    par_pos = np.arange(20_000, 20_000 + 10 * 1000, 1000)          # PAR1 (GRCh38)
    x_pos = np.arange(3_000_000, 3_000_000 + V * 5000, 5000)
    pos = np.concatenate([par_pos, x_pos])
    freq = rng.uniform(0.05, 0.5, pos.size)
    calls: list[list[str]] = []
    for k, p in enumerate(freq):
        row = []
        for j in range(len(samples)):
            a, b = (rng.random(2) < p).astype(int)
            if rng.random() < 0.03:
                row.append("./." if true_sex[j] == 2 or k < 10 else ".")
            elif true_sex[j] == 2 or k < 10:  # diploid: females everywhere, males in PAR
                row.append(f"{a}/{b}")
            else:
                row.append(str(a))
        calls.append(row)
    vcf = _write_x_vcf(d / "x.vcf.gz", samples, pos, calls)
    store = d / "x.vcz"
    import_vcfs([vcf], store)
    return {"dir": d, "vcf": vcf, "store": store, "samples": samples, "reported": reported,
            "true_sex": true_sex}


def test_planted_problems_and_par_excluded(xcohort: dict) -> None:
    ds = open_cohort(xcohort["store"])
    assert ds.attrs["genome_build"] == "GRCh38"
    mask = x_nonpar_mask(ds)
    assert mask.sum() == V and not mask[:10].any()
    res = sex_check(ds, dict(zip(xcohort["samples"], xcohort["reported"], strict=True)))
    assert res.attrs["x_variants"] == V
    assert (res.snpsex.to_numpy() == xcohort["true_sex"]).all()
    problems = set(res.loc[res.status == "PROBLEM", "sample"])
    assert problems == {"F03", "F07", "F10", "M01", "M05"}
    # males are homozygous everywhere outside the PARs: F = 1 exactly
    assert np.allclose(res.f[N_F:], 1.0)
    # including the PAR variants (diploid males, heterozygous) pulls male F down
    with_par = sex_check(ds, None, par=())
    assert with_par.attrs["x_variants"] == V + 10
    assert (with_par.f[N_F:] < 1).mean() > 0.8 and with_par.f[N_F:].mean() < 0.99
    assert (with_par.status == "PROBLEM").all()  # no reported sex: plink calls it a problem


def test_equals_plink19_check_sex(xcohort: dict) -> None:
    exe = _plink19()
    d = xcohort["dir"]
    (d / "sex.txt").write_text("".join(f"{s} {s} {c}\n" for s, c in
                                       zip(xcohort["samples"], xcohort["reported"], strict=True)))
    (d / "par.txt").write_text(f"X 1 {PAR1_END_38} PAR1\n")  # plink: PARs excluded by range
    res = subprocess.run([exe, "--vcf", str(xcohort["vcf"]), "--double-id", "--update-sex",
                          "sex.txt", "--exclude", "range", "par.txt", "--check-sex", "--out",
                          "pl"],
                         cwd=d, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:]
    pl = pd.read_csv(d / "pl.sexcheck", sep=r"\s+")
    ours = sex_check(open_cohort(xcohort["store"]),
                     dict(zip(xcohort["samples"], xcohort["reported"], strict=True)))
    m = ours.merge(pl, left_on="sample", right_on="IID")
    assert len(m) == N_F + N_M
    assert (_sig4(m.f.to_numpy()) == m.F.to_numpy()).all()
    assert (m.pedsex == m.PEDSEX).all() and (m.snpsex == m.SNPSEX).all()
    assert (m.status == m.STATUS).all()


def test_parse_sex_and_errors(xcohort: dict) -> None:
    assert parse_sex(["1", "F", "male", "0", None, "NA", 2, 1.0]).tolist() == [1, 2, 1, 0, 0,
                                                                            0, 2, 1]
    with pytest.raises(MalformedInputError) as exc:
        parse_sex(["1", "X"], path="s.tsv")
    assert exc.value.line == 3
    ds = open_cohort(xcohort["store"])
    auto = ds.isel(variants=slice(0, 10))  # PAR only
    with pytest.raises(InconsistentInputError, match="chrX"):
        sex_check(auto)


def test_cli_writes_sexcheck(xcohort: dict, tmp_path: Path) -> None:
    sex = tmp_path / "sex.tsv"
    pd.DataFrame({"sample": xcohort["samples"],
                  "sex": np.where(xcohort["reported"] == 1, "M",
                                  np.where(xcohort["reported"] == 2, "F", "NA"))}).to_csv(
        sex, sep="\t", index=False)
    out = tmp_path / "qc"
    r = CliRunner().invoke(app, ["cohort", "qc", str(xcohort["store"]), "-o", str(out),
                                 "--sex", str(sex), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["sexcheck_problems"] == 5 and summary["sexcheck_mismatches"] == 4
    t = pd.read_csv(out / "sexcheck.tsv", sep="\t")
    assert list(t.columns)[:5] == ["sample", "pedsex", "snpsex", "status", "f"]
    assert {"samples.tsv", "variants.tsv", "manifest.json"} <= {p.name for p in out.iterdir()}


@pytest.mark.validation
@pytest.mark.parametrize("parts", [("prs", "pygscatalog", "tiny1000G.vcf.gz"),
                                   ("pgx", "1kgp_grch38", "G6PD.vcf.gz")])
def test_1000g_equals_plink19(parts: tuple[str, ...], tmp_path: Path) -> None:
    """3,202 1000 Genomes samples (male X calls haploid), reported sex from ref.psam."""
    exe = _plink19()
    vcf = require_shared(*parts)
    psam = pd.read_csv(require_shared("prs", "pygscatalog", "ref.psam"), sep="\t")
    (tmp_path / "sex.txt").write_text("".join(f"{s} {s} {c}\n" for s, c in
                                              zip(psam["#IID"], psam["SEX"], strict=True)))
    res = subprocess.run([exe, "--vcf", str(vcf), "--double-id", "--update-sex", "sex.txt",
                          "--chr", "X", "--check-sex", "--out", "pl"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:]
    pl = pd.read_csv(tmp_path / "pl.sexcheck", sep=r"\s+")
    import_vcfs([vcf], tmp_path / "g.vcz")
    ours = sex_check(open_cohort(tmp_path / "g.vcz"), dict(zip(psam["#IID"], psam["SEX"],
                                                               strict=True)))
    m = ours.merge(pl, left_on="sample", right_on="IID")
    assert len(m) == 3202
    assert (_sig4(m.f.to_numpy()) == m.F.to_numpy()).all()
    assert (m.snpsex == m.SNPSEX).all() and (m.status == m.STATUS).all()
    assert (m.status == "OK").sum() > 2000
