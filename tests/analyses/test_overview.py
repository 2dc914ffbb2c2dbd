from __future__ import annotations

from genoma.analyses.overview import phenotype_gene_overview
from genoma.kb import get_source
from genoma.model.genotype import Call, Genotype
from genoma.model.subject import Patient, PhenotypicFeature
from genoma.model.variant import Variant


def _call(chrom: str, pos: int, ref: str, alt: str, gt: tuple[int, int]) -> Call:
    return Call(variant=Variant(chrom=chrom, pos=pos, ref=ref, alt=alt, build="GRCh38"),
                genotype=Genotype(alleles=gt), sample="P1")


def test_cftr_variant_is_linked_to_cf_phenotypes() -> None:
    patient = Patient(id="P1", features=(
        PhenotypicFeature(id="HP:0012236"),   # elevated sweat chloride
        PhenotypicFeature(id="HP:0002110"),   # bronchiectasis
        PhenotypicFeature(id="HP:0001250", excluded=True),
    ))
    calls = [
        _call("chr7", 117559590, "ATCT", "A", (1, 1)),      # CFTR F508del
        _call("chr10", 94781859, "G", "A", (0, 1)),         # CYP2C19, not phenotype-linked
        _call("chr21", 5_000_000, "A", "G", (0, 1)),        # intergenic-ish
    ]
    genes = get_source("genes").load()
    hpo = get_source("hpo").load()
    out = phenotype_gene_overview(calls, patient, genes, hpo, "GRCh38")
    assert out[0].kind == "variant_overview"
    assert out[0].data["n_calls"] == 3
    linked = [f for f in out if f.kind == "phenotype_gene"]
    assert [f.genes[0] for f in linked] == ["CFTR"]
    cftr = linked[0]
    assert cftr.rank == 1
    assert set(cftr.data["matched_terms"]) == {"HP:0012236", "HP:0002110"}
    assert cftr.data["zygosity"] == ["homozygous"]
    assert any(lim.code == "OVERVIEW_NOT_DIAGNOSTIC" for lim in cftr.limitations)


def test_obsolete_and_unknown_terms_are_reported_not_fatal() -> None:
    hpo = get_source("hpo").load()
    # find an obsolete term with a replacement in this release
    obsolete = next(t for t in hpo.terms(include_obsolete=True) if t.is_obsolete and t.replaced_by)
    patient = Patient(id="P1", features=(PhenotypicFeature(id=obsolete.id),
                                         PhenotypicFeature(id="HP:9999999")))
    out = phenotype_gene_overview([], patient, get_source("genes").load(), hpo, "GRCh38")
    codes = {lim.code for lim in out[0].limitations}
    assert {"HPO_OBSOLETE_TERM", "HPO_UNKNOWN_TERM"} <= codes
    assert out[0].data["hpo_terms"] == [hpo.resolve(obsolete.id)]
