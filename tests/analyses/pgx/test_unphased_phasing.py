"""Unphased input: phasing by a panel's haplotype frequencies, definition priorities,
and the homozygous-CYP2D6 deletion note."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genoma.analyses.pgx.caller import call_gene, haplotype_frequencies
from genoma.errors import InconsistentInputError
from genoma.io.vcf import SiteGenotypes
from genoma.kb import get_source

# GRCh38 CYP2D6 (pypgx cores): *4 = 42128945 C>T; *10 = 42126611 C>G + 42130692 G>A.
# A real *4 haplotype carries all three, so from dosages alone *1/*4 looks like *4/*10.
SITES = [("chr22", 42126611, "C", "G"), ("chr22", 42128945, "C", "T"),
         ("chr22", 42130692, "G", "A")]
STAR4, REF, STAR10 = [1, 1, 1], [0, 0, 0], [1, 0, 1]


@pytest.fixture(scope="module")
def k():
    return get_source("pgx").load()


def genotypes(haps: list[tuple[list[int], list[int]]], phased: bool) -> SiteGenotypes:
    n = len(haps)
    gt = np.zeros((len(SITES), n, 2), dtype=np.int8)
    for i, (h1, h2) in enumerate(haps):
        gt[:, i, 0], gt[:, i, 1] = h1, h2
    return SiteGenotypes(
        samples=[f"S{i}" for i in range(n)],
        chrom=np.array([s[0] for s in SITES], dtype=object),
        pos=np.array([s[1] for s in SITES]), ref=np.array([s[2] for s in SITES], dtype=object),
        alt=np.array([s[3] for s in SITES], dtype=object), gt=gt,
        phased=np.full((len(SITES), n), phased), record_index=np.arange(len(SITES)),
        build="GRCh38")


def panel(k, star4=10, ref=10, star10=1):
    g = genotypes([(STAR4, REF)] * min(star4, ref) + [(STAR10, REF)] * star10
                  + [(REF, REF)] * max(0, ref - star4 - star10), phased=True)
    return haplotype_frequencies(g, "CYP2D6", "GRCh38", k, source="toy panel")


def test_haplotype_counts(k):
    hf = panel(k)
    assert hf.total == 22
    cols = [hf.variants.index(("chr22", p, r, a)) for _, p, r, a in SITES]
    full = np.zeros(len(hf.variants), dtype=np.uint8)
    full[cols] = 1
    assert hf.count(full) == 10
    assert hf.count(np.zeros(len(hf.variants), dtype=np.uint8)) == 11


def test_dosages_alone_vs_panel_phasing(k):
    g = genotypes([(STAR4, REF), (STAR4, STAR10)], phased=False)
    alone = call_gene(g, "CYP2D6", "GRCh38", k)
    assert alone.diplotype(0) == "*4/*10"  # the documented limitation
    phased = call_gene(g, "CYP2D6", "GRCh38", k, phasing_panel={"CYP2D6": panel(k)})
    assert phased.diplotype(0) == "*1/*4" and phased.status[0] == "called"
    assert any("haplotype frequencies in toy panel" in n for n in phased.notes[0])
    # homozygous at the *10 sites: only one split, whatever the panel says
    assert phased.diplotype(1) == "*4/*10"


def test_panel_uncertainty_is_ambiguous(k):
    # *4 haplotypes and *10 + lone-*4-core haplotypes equally common: no confident pick
    hf = panel(k, star4=5, ref=10, star10=5)
    lone = genotypes([([0, 1, 0], REF)] * 5, phased=True)
    h2 = haplotype_frequencies(lone, "CYP2D6", "GRCh38", k)
    hf.haplotypes = np.vstack([hf.haplotypes, h2.haplotypes])
    hf.counts = np.concatenate([hf.counts, h2.counts])
    hf._index = {}
    g = genotypes([(STAR4, REF)], phased=False)
    c = call_gene(g, "CYP2D6", "GRCh38", k, phasing_panel={"CYP2D6": hf})
    assert c.status[0] == "ambiguous"
    assert set(c.candidates[0]) >= {"*1/*4", "*4/*10"}


def test_panel_for_other_definitions_is_refused(k):
    from genoma.kb.pharmcat import read_pharmcat

    from conftest import require_shared

    pc = read_pharmcat(require_shared("pgx", "pharmcat"), k)
    g = genotypes([(STAR4, REF)], phased=False)
    with pytest.raises(InconsistentInputError):
        call_gene(g, "CYP2D6", "GRCh38", pc, phasing_panel={"CYP2D6": panel(k)})


def test_homozygous_cyp2d6_carries_the_deletion_note(k):
    g = genotypes([(STAR4, STAR4), (STAR4, REF)], phased=True)
    c = call_gene(g, "CYP2D6", "GRCh38", k)
    assert c.diplotypes() == ["*4/*4", "*1/*4"]
    assert any("gene deletion (*5)" in n for n in c.notes[0])
    assert not any("gene deletion (*5)" in n for n in c.notes[1])


def test_definition_priorities_break_equal_explanations(tmp_path, k):
    """PharmCAT's unphasedDiplotypePriorities pick between equally exact diplotypes."""
    from genoma.kb.pharmcat import read_pharmcat

    root = tmp_path / "pc"
    (root / "definitions").mkdir(parents=True)
    var = [{"chromosome": "chr22", "position": p, "ref": r, "alts": [a]}
           for _, p, r, a in SITES[:2]]
    named = [{"name": "*1", "alleles": ["C", "C"], "reference": True},
             {"name": "*2", "alleles": ["G", None]},
             {"name": "*3", "alleles": [None, "T"]},
             {"name": "*4", "alleles": ["G", "T"]}]
    (root / "definitions" / "CYP2D6_translation.json").write_text(json.dumps(
        {"gene": "CYP2D6", "version": "2099-01-01", "chromosome": "chr22",
         "genomeBuild": "GRCh38", "variants": var, "namedAlleles": named}))

    def call(priorities):
        (root / "definitions" / "exemptions.json").write_text(json.dumps(
            {"CYP2D6": {"unphasedDiplotypePriorities": priorities}}))
        pc = read_pharmcat(root, k)
        g = genotypes([([1, 1, 0], REF)], phased=False)
        return call_gene(g, "CYP2D6", "GRCh38", pc)

    assert call([]).diplotype(0) == "*1/*4"  # the most specific allele
    c = call([{"list": ["*1/*4", "*2/*3"], "pick": "*2/*3"}])
    assert c.diplotype(0) == "*2/*3" and c.status[0] == "called"
    assert any("unphased priority" in n for n in c.notes[0])


def _write_vcf(path: Path, haps, phased: bool) -> Path:
    sep = "|" if phased else "/"
    lines = ["##fileformat=VCFv4.2\n", "##contig=<ID=chr22,length=50818468>\n",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
             + "\t".join(f"S{i}" for i in range(len(haps))) + "\n"]
    for j, (c, p, r, a) in enumerate(SITES):
        gts = [f"{h1[j]}{sep}{h2[j]}" for h1, h2 in haps]
        lines.append(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t" + "\t".join(gts) + "\n")
    text = "".join(lines)
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def test_cli_phasing_panel(tmp_path):
    from genoma.cli.main import app

    (tmp_path / "panel").mkdir()
    _write_vcf(tmp_path / "panel" / "CYP2D6.vcf.gz", [(STAR4, REF)] * 10 + [(STAR10, REF)],
               phased=True)
    vcf = _write_vcf(tmp_path / "in.vcf", [(STAR4, REF)], phased=False)
    runner = CliRunner()
    res = runner.invoke(app, ["pgx", str(vcf), "--genes", "CYP2D6", "-o", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["pgx", str(vcf), "--genes", "CYP2D6", "--phasing-panel",
                              str(tmp_path / "panel"), "-o", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    a = pd.read_csv(tmp_path / "a" / "pgx.tsv", sep="\t", keep_default_na=False)
    b = pd.read_csv(tmp_path / "b" / "pgx.tsv", sep="\t", keep_default_na=False)
    assert a.loc[0, "diplotype"] == "*4/*10" and b.loc[0, "diplotype"] == "*1/*4"
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert any(i["role"] == "phasing_panel:CYP2D6" for i in manifest["inputs"])
