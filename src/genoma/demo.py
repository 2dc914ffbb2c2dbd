"""The demo patient, generated deterministically from genoma's own knowledge.

Nothing here is copied patient data: the VCF is written from the star-allele
definitions of the embedded PGx tables (each chosen allele's core variants, hom-ref
calls at every other defining position of the gene) plus a well-known disease-causing
variant (CFTR F508del, homozygous), and the Phenopacket describes a matching clinical
picture (cystic fibrosis features, clinical measures for warfarin dosing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genoma.kb import get_source
from genoma.model.builds import CONTIG_LENGTHS
from genoma.model.subject import Measurement, Medication, Patient, PhenotypicFeature
from genoma.model.variant import canonical_chrom

__all__ = ["DEMO_DIAGNOSIS", "DEMO_DIPLOTYPES", "DEMO_SAMPLE", "DemoFiles", "demo_patient", "write_demo_inputs"]

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


@dataclass(frozen=True)
class DemoFiles:
    vcf: Path
    phenopacket: Path


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


def write_demo_vcf(path: Path, build: str = "GRCh38") -> Path:
    """Write the demo VCF, bgzip-compressed and tabix-indexed."""
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
    for c, p, r, a, gt in _records(build):
        lines.append(f"{c}\t{p}\t.\t{r}\t{a}\t60\tPASS\t.\tGT:DP:GQ\t{gt}:35:99")
    plain = path.with_suffix("")  # demo.vcf
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def write_demo_inputs(directory: Path, build: str = "GRCh38") -> DemoFiles:
    """Write ``demo.vcf.gz`` (+ ``.tbi``) and ``demo.phenopacket.json`` into ``directory``."""
    from genoma.io.phenopacket import write_phenopacket

    directory.mkdir(parents=True, exist_ok=True)
    vcf = write_demo_vcf(directory / "demo.vcf.gz", build)
    pp = directory / "demo.phenopacket.json"
    write_phenopacket(demo_patient(), pp)
    return DemoFiles(vcf=vcf, phenopacket=pp)


