"""The ``pharmcat`` knowledge source: PharmCAT NamedAllele definitions → caller tables."""

from __future__ import annotations

import json
import urllib.parse
import zipfile
from pathlib import Path

import numpy as np
import pytest

from genoma.errors import InconsistentInputError, KnowledgeError
from genoma.kb import install as kbinstall
from genoma.kb.base import get_source
from genoma.kb.pharmcat import DATA_VERSION, PHARMCAT_VERSION, read_pharmcat

from conftest import require_shared


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("GENOMA_HOME", str(h))
    monkeypatch.delenv("GENOMA_KB_MIRROR", raising=False)
    from genoma.kb import base

    base.reset_cache()
    return h


def _variant(pos: int, ref: str, alts: list[str]) -> dict:
    return {"chromosome": "chr10", "position": pos, "rsid": f"rs{pos}",
            "chromosomeHgvsName": f"g.{pos}{ref}>{alts[0]}", "ref": ref, "alts": alts}


def _allele(name: str, alleles: list, reference: bool = False) -> dict:
    return {"name": name, "alleles": alleles, "reference": reference,
            "structuralVariant": False}


def _write_tiny(root: Path) -> Path:
    """A toy CYP2C19 definition exercising null filling, IUPAC codes and exemptions."""
    (root / "definitions").mkdir(parents=True)
    (root / "phenotype").mkdir()
    d = {
        "gene": "CYP2C19", "version": "2099-01-02-03-04", "chromosome": "chr10",
        "genomeBuild": "GRCh38.p14",
        "variants": [_variant(100, "A", ["G"]), _variant(200, "C", ["T"]),
                     _variant(300, "G", ["A", "T"]), _variant(400, "CT", ["C"])],
        "namedAlleles": [
            _allele("*38", ["A", "C", "G", "CT"], reference=True),
            _allele("*1", [None, None, "T", None]),      # null = as the reference
            _allele("*2", ["G", "R", "T", "C"]),         # R (A/G) accepts either base
            _allele("*9", [None, "T", "T", None]),
            _allele("*99", ["G", None, None, None]),     # ignored by the exemptions
        ],
    }
    (root / "definitions" / "CYP2C19_translation.json").write_text(json.dumps(d))
    (root / "definitions" / "exemptions.json").write_text(json.dumps({
        "CYP2C19": {"ignoredAlleles": ["*99"], "ignoredPositions": [],
                    "unphasedDiplotypePriorities": [
                        {"id": "*1/*2|*9/*38", "list": ["*1/*2", "*9/*38"], "pick": "*1/*2"}]},
    }))
    (root / "phenotype" / "CYP2C19.json").write_text(json.dumps({
        "gene": "CYP2C19", "haplotypes": {"*1": "Normal function", "*2": "No function",
                                         "*9": "Decreased function", "*38": "Normal function"},
        "activityValues": {},
        "diplotypes": [{"diplotype": "*1/*2", "generesult": "Intermediate Metabolizer"},
                       {"diplotype": "*2/*2", "generesult": "Poor Metabolizer"}],
    }))
    return root


def test_named_alleles_to_cores(tmp_path):
    k = read_pharmcat(_write_tiny(tmp_path / "pc"), get_source("pgx").load())
    a = k.alleles.set_index("StarAllele")
    assert a.at["*38", "GRCh38Core"] is None  # the reference genome's allele
    assert a.at["*1", "GRCh38Core"] == "chr10-300-G-T"
    # *2: 100 A>G, the R at 200 is no requirement, the 2nd alt at 300, the deletion
    assert a.at["*2", "GRCh38Core"] == "chr10-100-A-G,chr10-300-G-T,chr10-400-CT-C"
    assert a.at["*9", "GRCh38Core"] == "chr10-200-C-T,chr10-300-G-T"
    assert "*99" not in a.index  # exemptions: ignoredAlleles
    assert a.at["*2", "Function"] == "No Function"
    g = k.genes.set_index("Gene").loc["CYP2C19"]
    assert g["RefAllele"] == "*38" and g["GRCh38Default"] == "*38"
    assert g["PhenotypeMethod"] == "Diplotype"
    assert k.builds == ("GRCh38",)
    assert k.gene_versions["CYP2C19"].startswith("pharmcat-3.1.1 ClinPGx 2099-01-02")
    assert k.unphased_priorities["CYP2C19"] == [(frozenset({"*1/*2", "*9/*38"}), "*1/*2")]
    assert "2099-01-02" in k.version


def test_calls_on_pharmcat_tables(tmp_path):
    from genoma.analyses.pgx.caller import call_gene
    from genoma.analyses.pgx.definitions import compile_gene
    from genoma.io.vcf import SiteGenotypes

    k = read_pharmcat(_write_tiny(tmp_path / "pc"), get_source("pgx").load())
    d = compile_gene(k, "CYP2C19", "GRCh38")
    assert d.default_allele == "*38"
    # two samples, phased: *1|*2 and *38|*9
    gt = np.array([[[0, 1], [0, 0]],   # 100 A>G
                   [[0, 0], [0, 1]],   # 200 C>T
                   [[1, 1], [0, 1]],   # 300 G>T (the definition's 2nd ALT)
                   [[0, 1], [0, 0]]], dtype=np.int8)  # 400 CT>C
    g = SiteGenotypes(
        samples=["s1", "s2"], chrom=np.array(["chr10"] * 4, dtype=object),
        pos=np.array([100, 200, 300, 400]), ref=np.array(["A", "C", "G", "CT"], dtype=object),
        alt=np.array(["G", "T", "T", "C"], dtype=object), gt=gt,
        phased=np.ones((4, 2), dtype=bool), record_index=np.arange(4), build="GRCh38")
    calls = call_gene(g, "CYP2C19", "GRCh38", k)
    assert calls.diplotypes() == ["*1/*2", "*9/*38"]
    assert calls.knowledge_version.startswith("pharmcat-3.1.1 ClinPGx 2099")
    with pytest.raises(InconsistentInputError):
        compile_gene(k, "CYP2C19", "GRCh37")


def test_bad_release_is_a_knowledge_error(tmp_path):
    p = tmp_path / "x.jar"
    p.write_bytes(b"not a zip")
    with pytest.raises(KnowledgeError, match="not a PharmCAT release"):
        read_pharmcat(p, get_source("pgx").load())
    with zipfile.ZipFile(tmp_path / "empty.jar", "w") as z:
        z.writestr("README", "nothing")
    with pytest.raises(KnowledgeError, match="no PharmCAT allele definitions"):
        read_pharmcat(tmp_path / "empty.jar", get_source("pgx").load())


def _mirror_jar(root: Path, shared: Path) -> str:
    """The shared definitions zipped at the release URL's path, in the jar's layout."""
    rel = get_source("pharmcat").releases()[0]
    dest = root / urllib.parse.urlsplit(rel.url).path.lstrip("/")
    dest.parent.mkdir(parents=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted((shared / "definitions").glob("*.json")):
            z.write(p, f"org/pharmgkb/pharmcat/definition/alleles/{p.name}")
        for p in sorted((shared / "phenotype").glob("*.json")):
            z.write(p, f"org/pharmgkb/pharmcat/phenotype/{p.name}")
    return root.as_uri()


def test_release_points_at_the_official_asset():
    src = get_source("pharmcat")
    rel = src.releases()[0]
    assert rel.url == ("https://github.com/PharmGKB/PharmCAT/releases/download/v3.1.1/"
                       "pharmcat-3.1.1-all.jar")
    assert rel.version == PHARMCAT_VERSION and rel.extra["data_version"] == DATA_VERSION
    assert not src.embedded and src.builds == ("GRCh38",)


def test_install_from_file_mirror(home, tmp_path):
    from genoma.analyses.pgx.phenotype import Phenotyper, split_diplotype

    shared = require_shared("pgx", "pharmcat")
    src = get_source("pharmcat")
    with pytest.raises(KnowledgeError, match="genoma kb install pharmcat"):
        src.load()
    mirror = _mirror_jar(tmp_path / "mirror", shared)
    rec = kbinstall.install("pharmcat", mirror=mirror)
    assert rec.version == "3.1.1" and rec.filename == "pharmcat-3.1.1-all.jar"
    assert rec.url.startswith("https://github.com/PharmGKB/PharmCAT/")
    assert kbinstall.verify("pharmcat") == get_source("pharmcat").checksum()
    k = get_source("pharmcat").load()
    assert "ClinPGx 2025-11-05" in k.version
    assert set(k.genes["Gene"]) >= {"CYP2C19", "CYP2C9", "CYP2D6", "DPYD", "NAT2", "TPMT"}
    assert "CYP2C8" not in set(k.genes["Gene"])  # not defined by PharmCAT 3.1.1
    assert all("2025-11-05" in v for v in k.gene_versions.values())
    assert "pypgx" in k.gene_versions["CYP2D6"]  # no PharmCAT CYP2D6 phenotype map
    # the phenotype rules reproduce every diplotype → phenotype PharmCAT lists
    ph = Phenotyper(k)
    for gene in ("CYP2C9", "DPYD", "CYP2C19", "TPMT"):
        data = json.loads((shared / "phenotype" / f"{gene}.json").read_text())
        bad = [x["diplotype"] for x in data["diplotypes"]
               if ph.phenotype(gene, *split_diplotype(x["diplotype"])).phenotype
               != x["generesult"]]
        assert not bad, (gene, bad[:5])
    assert ph.gene("CYP2C9").method == "Score"
    assert ph.phenotype("CYP2C9", "*1", "*3").activity_score == 1.0
