"""LD clumping equals plink 1.9 ``--clump`` (plink2 a3.5 has no --clump); regions of
interest with nearest genes; the ``genoma cohort regions`` command."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from _cohort_data import write_vcf
from typer.testing import CliRunner

from genoma.analyses.cohort.clump import (
    CLUMP_COLUMNS,
    REGION_COLUMNS,
    clump,
    ld_r2,
    regions_of_interest,
)
from genoma.cli.cohort import app as cohort_app
from genoma.errors import InconsistentInputError, UsageError
from genoma.io.vcz import import_vcfs, open_cohort
from genoma.kb.genes import COLUMNS, GeneTable
from genoma.model.builds import CONTIG_LENGTHS

N = 400
BLOCK, NBLOCK, STEP = 25, 8, 4000  # 25 variants 4 kb apart per block, blocks 100 kb apart


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Blocks of decaying LD (each variant copies its neighbour's haplotype with random
    flips) on chr1 and chr2, 1 % missing calls in every third variant, a trait driven by
    three causal variants, and association p-values from a simple regression."""
    from scipy import stats

    rng = np.random.default_rng(11)
    d = tmp_path_factory.mktemp("clump")
    samples = [f"S{i:04d}" for i in range(N)]
    haps, chrom, pos = [], [], []
    for b in range(NBLOCK):
        h = rng.random(2 * N) < rng.uniform(0.1, 0.5)
        for j in range(BLOCK):
            flip = rng.random(2 * N) < rng.uniform(0.01, 0.15)
            h = np.where(flip, rng.random(2 * N) < 0.3, h)
            haps.append(h.copy())
            c = "chr1" if b < NBLOCK // 2 else "chr2"
            chrom.append(c)
            pos.append(1_000_000 + (b % (NBLOCK // 2)) * (BLOCK * STEP + 100_000) + j * STEP)
    gt = np.array(haps, dtype=np.int8).reshape(len(haps), N, 2)
    miss = rng.random(gt.shape[:2]) < 0.01
    miss[np.arange(len(haps)) % 3 != 0] = False
    gt[miss] = -1
    v = len(haps)
    dose = np.where((gt < 0).any(-1), np.nan, gt.sum(-1).astype(float))
    causal = [12, 3 * BLOCK + 5, 5 * BLOCK + 20]
    y = sum(0.35 * np.nan_to_num(dose[c] - np.nanmean(dose[c])) for c in causal)
    y = y + rng.normal(size=N)
    p = np.empty(v)
    for i in range(v):  # p-values as test input only (not the code under test)
        ok = ~np.isnan(dose[i])
        p[i] = stats.linregress(dose[i][ok], y[ok]).pvalue if np.ptp(dose[i][ok]) else np.nan
    lengths = {c: CONTIG_LENGTHS["GRCh38"][c] for c in ("chr1", "chr2")}
    vcf = write_vcf(d / "c.vcf.gz", samples, chrom, np.array(pos), ["A"] * v, ["G"] * v, gt,
                    contig_lengths=lengths)
    store = d / "c.vcz"
    import_vcfs([vcf], store)
    table = pd.DataFrame({"chrom": chrom, "pos": pos, "id": [f"{c}:{q}" for c, q in zip(chrom, pos, strict=True)],
                          "ref": "A", "alt": "G", "p": p})
    table.to_csv(d / "gwas.tsv", sep="\t", index=False, na_rep="NA", float_format="%.10g")
    return {"dir": d, "vcf": vcf, "store": store, "table": table, "dose": dose}


def test_ld_r2_equals_pairwise_complete_corrcoef() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, (30, 200)).astype(np.int8)
    y[5] = y[0]
    y[rng.random(y.shape) < 0.05] = -1
    y[7] = 1  # constant
    r2 = ld_r2(y[0], y)
    for j in range(30):
        ok = (y[0] >= 0) & (y[j] >= 0)
        if j == 7:
            assert np.isnan(r2[j])
            continue
        expect = np.corrcoef(y[0][ok], y[j][ok])[0, 1] ** 2
        assert r2[j] == pytest.approx(expect, rel=1e-10, abs=1e-12)
    assert r2[5] == pytest.approx(1.0)


def test_clump_rules_hold(cohort: dict) -> None:
    ds = open_cohort(cohort["store"])
    t = cohort["table"]
    res = clump(ds, t, p1=1e-4, p2=1e-2, r2=0.2, kb_window=60)
    assert list(res.columns) == list(CLUMP_COLUMNS)
    assert len(res) and res["clump"].max() >= 3
    # each variant in one clump; an index per clump with p <= p1, index p ascending
    assert not res.duplicated(["chrom", "pos"]).any()
    idx = res[res.is_index]
    assert (idx.groupby("clump").size() == 1).all()
    assert (idx.p <= 1e-4).all() and idx.p.is_monotonic_increasing
    dose = cohort["dose"]
    key = {(c, q): i for i, (c, q) in enumerate(zip(t.chrom, t.pos, strict=True))}
    for _, grp in res.groupby("clump"):
        lead = grp.iloc[0]
        assert lead.is_index
        li = key[(lead.chrom, lead.pos)]
        for _, m in grp.iloc[1:].iterrows():
            assert m.chrom == lead.chrom and abs(m.pos - lead.pos) <= 60_000 and m.p <= 1e-2
            mi = key[(m.chrom, m.pos)]
            ok = ~np.isnan(dose[li]) & ~np.isnan(dose[mi])
            r = np.corrcoef(dose[li][ok], dose[mi][ok])[0, 1] ** 2
            assert m.r2 == pytest.approx(r, rel=1e-9) and r >= 0.2
    # every unclumped candidate with p <= p1 was absorbed: it must be in a clump
    strong = t[t.p <= 1e-4]
    assert set(zip(strong.chrom, strong.pos, strict=True)) <= set(zip(res.chrom, res.pos, strict=True))


def test_clump_usage_errors(cohort: dict) -> None:
    ds = open_cohort(cohort["store"])
    with pytest.raises(UsageError):
        clump(ds, cohort["table"], p1=0.1, p2=0.01)
    with pytest.raises(UsageError):
        clump(ds, cohort["table"], r2=0)
    other = cohort["table"].assign(pos=cohort["table"].pos + 1)
    with pytest.raises(InconsistentInputError):
        clump(ds, other)
    none = clump(ds, cohort["table"].assign(p=0.5))
    assert list(none.columns) == list(CLUMP_COLUMNS) and len(none) == 0


def _plink19_clump(cohort: dict, p1: float, p2: float, r2: float, kb: int) -> pd.DataFrame:
    exe = shutil.which("plink1.9") or shutil.which("plink")
    if exe is None:
        pytest.skip("plink 1.9 not installed (apt-get install -y plink1.9); plink2 a3.5 "
                    "has no --clump: peer comparison skipped")
    d: Path = cohort["dir"]
    t = cohort["table"].dropna(subset=["p"])
    t[["id", "p"]].rename(columns={"id": "SNP", "p": "P"}).to_csv(
        d / "assoc.txt", sep=" ", index=False, float_format="%.10g")
    res = subprocess.run([exe, "--vcf", str(cohort["vcf"]), "--allow-extra-chr", "--double-id",
                          "--clump", "assoc.txt", "--clump-p1", str(p1), "--clump-p2", str(p2),
                          "--clump-r2", str(r2), "--clump-kb", str(kb), "--out", "pl",
                          "--threads", "2"], cwd=d, capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"plink1.9 failed: {res.stdout[-2000:]}")
    return pd.read_csv(d / "pl.clumped", sep=r"\s+")


@pytest.mark.parametrize(("p1", "p2", "r2", "kb"), [(1e-4, 1e-2, 0.1, 250), (1e-3, 0.05, 0.5, 50)])
def test_clump_equals_plink19(cohort: dict, p1: float, p2: float, r2: float, kb: int) -> None:
    """Same index variants and members as plink 1.9, except members whose r² lies near the
    threshold: plink 1.9 clumps on EM haplotype r², we on dosage r² (= plink ``--r2``);
    the two differ by up to ~0.04 on this data."""
    pl = _plink19_clump(cohort, p1, p2, r2, kb)
    ours = clump(open_cohort(cohort["store"]), cohort["table"], p1=p1, p2=p2, r2=r2,
                 kb_window=kb)
    idx = ours[ours.is_index]
    assert idx.id.tolist() == pl.SNP.tolist()
    t, dose = cohort["table"], cohort["dose"]
    row = {v: i for i, v in enumerate(t.id)}

    def r2_with(lead: str, v: str) -> float:
        x, y = dose[row[lead]], dose[row[v]]
        ok = ~np.isnan(x) & ~np.isnan(y)
        return float(np.corrcoef(x[ok], y[ok])[0, 1] ** 2)

    # variant -> lead of its clump, ours and plink's
    mine = dict(zip(ours.id, ours.groupby("clump").id.transform("first"), strict=True))
    theirs = {}
    for lead, sp2 in zip(pl.SNP, pl.SP2, strict=True):
        theirs[lead] = lead
        if sp2 != "NONE":
            theirs.update({s.rsplit("(", 1)[0]: lead for s in sp2.split(",")})
    differ = [v for v in set(mine) | set(theirs) if mine.get(v) != theirs.get(v)]
    for v in differ:  # only variants whose r² with one of the two leads is borderline
        leads = {x for x in (mine.get(v), theirs.get(v)) if x is not None}
        assert any(abs(r2_with(lead, v) - r2) < 0.05 for lead in leads), v
    n_members = len(set(mine) | set(theirs))
    n_differ = len(differ)
    assert n_differ <= 0.05 * n_members


def _genes() -> GeneTable:
    rows = [("chr1", 900_000, 1_010_000, 1, "GA"), ("chr1", 1_030_000, 1_040_000, -1, "GB"),
            ("chr1", 1_200_000, 1_300_000, 1, "GC"), ("chr2", 5_000_000, 5_100_000, 1, "GD")]
    cols = {k: [] for k in COLUMNS}  # type: dict[str, list]
    for c, s, e, strand, sym in rows:
        for k, val in zip(COLUMNS, (c, s, e, strand, sym, "", "", "protein_coding", ""),
                          strict=True):
            cols[k].append(val)
    arr = {k: np.array(v, dtype=np.int64 if k in ("start", "end") else
                       np.int8 if k == "strand" else object) for k, v in cols.items()}
    for k in ("chrom", "symbol", "gene_id", "hgnc_id", "biotype", "synonyms"):
        arr[k] = arr[k].astype(str)
    return GeneTable(arr, "GRCh38", "test", "1")


def test_regions_of_interest_genes() -> None:
    clumps = pd.DataFrame({
        "clump": [1, 1, 1, 2, 3], "chrom": ["chr1", "chr1", "chr1", "chr1", "chr2"],
        "pos": [1_020_000, 1_000_000, 1_035_000, 1_150_000, 4_000_000],
        "id": ["rsA", ".", ".", ".", "rsC"], "ref": "A", "alt": "G",
        "p": [1e-12, 1e-3, 1e-4, 3e-9, 2e-8], "r2": [1, 0.5, 0.3, 1, 1],
        "is_index": [True, False, False, True, True]})
    reg = regions_of_interest(clumps, "GRCh38", flank_kb=10, genes=_genes())
    assert list(reg.columns) == list(REGION_COLUMNS)
    assert reg["rank"].tolist() == [1, 2, 3]
    r1, r2_, r3 = (reg.iloc[i] for i in range(3))
    assert (r1.chrom, r1.start, r1.end, r1.lead_variant, r1.n_variants) == (
        "chr1", 990_000, 1_045_000, "rsA", 3)
    # lead between GA (ends 1,010,000) and GB (starts 1,030,000): GA at 10 kb, GB at 10 kb
    assert set(r1.nearest_genes.split(",")) == {"GA", "GB"}
    assert r1.genes_in_region == "GA,GB"
    assert r2_.lead_variant == "chr1:1150000:A:G"
    assert r2_.nearest_genes == "GC,GB"  # GC 50 kb downstream, GB 110 kb upstream
    assert r2_.genes_in_region == ""
    assert r3.nearest_genes == "GD" and r3.lead_p == 2e-8
    with pytest.raises(InconsistentInputError):
        regions_of_interest(clumps, "GRCh37", genes=_genes())


def test_regions_grch37_without_gene_source() -> None:
    from genoma.kb.base import get_source

    if get_source("gencode-grch37").is_available():
        pytest.skip("gencode-grch37 is installed here")
    clumps = pd.DataFrame({"clump": [1], "chrom": ["chr1"], "pos": [10], "id": ["x"],
                           "ref": "A", "alt": "G", "p": [1e-9], "r2": [1.0], "is_index": [True]})
    with pytest.raises(InconsistentInputError):
        regions_of_interest(clumps, "GRCh37")


def test_cli_regions(cohort: dict, tmp_path: Path) -> None:
    root = typer.Typer()
    root.add_typer(cohort_app, name="cohort")

    @root.callback()
    def _root() -> None:
        """Test root."""

    out = tmp_path / "reg"
    res = CliRunner().invoke(root, ["cohort", "regions", str(cohort["store"]), "--gwas",
                                    str(cohort["dir"] / "gwas.tsv"), "-o", str(out),
                                    "--p1", "1e-4", "--r2", "0.2", "--kb", "100", "--json"])
    assert res.exit_code == 0, res.output
    reg = pd.read_csv(out / "regions.tsv", sep="\t", keep_default_na=False)
    cl = pd.read_csv(out / "clumps.tsv", sep="\t")
    assert list(reg.columns) == list(REGION_COLUMNS) and len(reg) >= 3
    assert reg.n_variants.sum() == len(cl)
    assert (reg.genes_in_region != "").any() or (reg.nearest_genes != "").all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["summary"]["regions"] == len(reg)
    assert manifest["summary"]["genome_build"] == "GRCh38"
