"""The installable ``hpo-annotations`` source: two HPO release files installed as one."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genoma.config import settings
from genoma.errors import KnowledgeError
from genoma.kb import hpo_annotations as hpoann
from genoma.kb import install as kbinstall
from genoma.kb.base import Release, get_source

HPOA = """\
#description: "HPO annotations for rare diseases [2: OMIM; 0: DECIPHER; 1 ORPHANET]"
#version: 2025-11-24
#tracker: https://github.com/obophenotype/human-phenotype-ontology/issues
#hpo-version: http://purl.obolibrary.org/obo/hp/releases/2025-11-24/hp.json
database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency\tsex\tmodifier\taspect\tbiocuration
OMIM:154700\tMarfan syndrome\t\tHP:0001166\tOMIM:154700\tTAS\t\t\t\t\tP\tHPO:iea[2009-02-17]
OMIM:154700\tMarfan syndrome\t\tHP:0000006\tOMIM:154700\tTAS\t\t\t\t\tI\tHPO:iea[2009-02-17]
OMIM:154700\tMarfan syndrome\tNOT\tHP:0001249\tOMIM:154700\tTAS\t\t\t\t\tP\tHPO:iea[2009-02-17]
OMIM:219700\tCystic fibrosis\t\tHP:0002110\tOMIM:219700\tTAS\t\tHP:0040281\t\t\tP\tHPO:iea[2009-02-17]
ORPHA:586\tCystic fibrosis\t\tHP:0006528\tORPHA:586\tTAS\t\t3/4\t\t\tP\tORPHA:orphadata[2025-01-01]
"""

G2P = """\
ncbi_gene_id\tgene_symbol\thpo_id\thpo_name\tfrequency\tdisease_id
2200\tFBN1\tHP:0001166\tArachnodactyly\t-\tOMIM:154700
1080\tCFTR\tHP:0002110\tBronchiectasis\t-\tOMIM:219700
1080\tCFTR\tHP:0006528\tChronic lung disease\t3/4\tORPHA:586
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("GENOMA_HOME", str(h))
    monkeypatch.delenv("GENOMA_KB_MIRROR", raising=False)
    monkeypatch.delenv("GENOMA_HPO_ANNOTATIONS", raising=False)
    from genoma.kb import base

    base.reset_cache()
    yield h
    base.reset_cache()


def make_mirror(root: Path, hpoa: str = HPOA, g2p: str = G2P) -> tuple[str, dict[str, str]]:
    """Write both files at the paths of the official release URLs under ``root``."""
    digests = {}
    for rel in kbinstall.release_files(get_source("hpo-annotations").releases()[0]):
        dest = root / urllib.parse.urlsplit(rel.url).path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(hpoa if rel.filename == "phenotype.hpoa" else g2p, encoding="utf-8")
        digests[rel.filename] = hashlib.sha256(dest.read_bytes()).hexdigest()
    return root.as_uri(), digests


def pin(monkeypatch, digests: dict[str, str]) -> None:
    """Make the source's release carry the given SHA-256 for each file."""
    src = type(get_source("hpo-annotations"))
    rel = src().releases()[0]
    g2p = kbinstall.release_files(rel)[1]
    g2p = Release(g2p.version, g2p.url, g2p.filename, sha256=digests[g2p.filename])
    pinned = Release(rel.version, rel.url, rel.filename, sha256=digests[rel.filename],
                     extra={"files": (g2p,)})
    monkeypatch.setattr(src, "releases", lambda self: [pinned])


def test_release_is_the_official_hpo_release_matching_hpo3():
    src = get_source("hpo-annotations")
    assert not src.embedded and "hpo.jax.org/license" in src.license
    files = kbinstall.release_files(src.releases()[0])
    base = "https://github.com/obophenotype/human-phenotype-ontology/releases/download/v"
    assert [r.url for r in files] == [
        f"{base}{hpoann.HPO_RELEASE}/phenotype.hpoa",
        f"{base}{hpoann.HPO_RELEASE}/genes_to_phenotype.txt",
    ]
    assert {r.version for r in files} == {hpoann.HPO_RELEASE}


def test_install_from_file_mirror_then_find_and_read(home, tmp_path, monkeypatch):
    assert hpoann.find_annotations() is None
    assert not get_source("hpo-annotations").is_available()
    mirror, digests = make_mirror(tmp_path / "mirror")
    pin(monkeypatch, digests)
    rec = kbinstall.install("hpo-annotations", mirror=mirror)
    assert rec.version == hpoann.HPO_RELEASE
    assert rec.sha256 == digests["phenotype.hpoa"]
    assert rec.files == {"genes_to_phenotype.txt": digests["genes_to_phenotype.txt"]}
    assert rec.url.startswith("https://github.com/obophenotype/")
    vdir = settings().kb_dir / "hpo-annotations" / hpoann.HPO_RELEASE
    assert rec.directory == vdir
    assert sorted(p.name for p in vdir.iterdir()) == [
        "genes_to_phenotype.txt", "installed.json", "phenotype.hpoa"]
    saved = json.loads((vdir / "installed.json").read_text())
    assert saved["files"] == rec.files and saved["license"] == rec.license

    found = hpoann.find_annotations()
    assert found == vdir
    tables = hpoann.read_annotation_tables(found)
    assert tables.version == "2025-11-24"
    assert set(tables.diseases) == {"OMIM:154700", "OMIM:219700", "ORPHA:586"}
    marfan = tables.diseases["OMIM:154700"]
    assert set(marfan.terms) == {"HP:0001166"} and marfan.not_terms == {"HP:0001249"}
    assert marfan.moi == {"AD"}
    assert tables.gene_diseases == {"FBN1": {"OMIM:154700"},
                                    "CFTR": {"OMIM:219700", "ORPHA:586"}}

    src = get_source("hpo-annotations")
    assert src.is_available() and src.version == hpoann.HPO_RELEASE
    assert kbinstall.verify("hpo-annotations") == src.checksum()
    # an explicit path still wins over the installed release
    other = tmp_path / "other"
    other.mkdir()
    (other / "phenotype.hpoa").write_text(HPOA)
    (other / "genes_to_phenotype.txt").write_text(G2P)
    assert hpoann.find_annotations(other) == other
    # altering the second file is detected
    with open(vdir / "genes_to_phenotype.txt", "a") as fh:
        fh.write("1\tX\tHP:0000001\tAll\t-\tOMIM:1\n")
    with pytest.raises(KnowledgeError, match="altered"):
        kbinstall.verify("hpo-annotations")


@pytest.mark.parametrize("bad", ["phenotype.hpoa", "genes_to_phenotype.txt"])
def test_wrong_checksum_leaves_nothing(home, tmp_path, monkeypatch, bad):
    mirror, digests = make_mirror(tmp_path / "mirror")
    pin(monkeypatch, {**digests, bad: "0" * 64})
    with pytest.raises(KnowledgeError, match="checksum mismatch") as exc:
        kbinstall.install("hpo-annotations", mirror=mirror)
    assert exc.value.exit_code == 6
    kb = settings().kb_dir / "hpo-annotations"
    assert not kb.exists() or not any(kb.rglob("*"))
    assert hpoann.find_annotations() is None
    assert not get_source("hpo-annotations").is_available()


def test_missing_second_file_or_unparseable_release_leaves_nothing(home, tmp_path):
    mirror, _ = make_mirror(tmp_path / "mirror")
    g2p = kbinstall.release_files(get_source("hpo-annotations").releases()[0])[1]
    (tmp_path / "mirror" / urllib.parse.urlsplit(g2p.url).path.lstrip("/")).unlink()
    with pytest.raises(KnowledgeError, match="download"):
        kbinstall.install("hpo-annotations", mirror=mirror)
    kb = settings().kb_dir / "hpo-annotations"
    assert not kb.exists() or not any(kb.rglob("*"))
    mirror, _ = make_mirror(tmp_path / "mirror2", g2p="no header here\n")
    with pytest.raises(KnowledgeError):
        kbinstall.install("hpo-annotations", mirror=mirror)
    assert not kb.exists() or not any(kb.rglob("*"))


def test_kb_list_shows_version_and_license(home, tmp_path, monkeypatch):
    from genoma.cli.main import app

    def listed() -> dict:
        res = CliRunner().invoke(app, ["kb", "list", "--json"])
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        rows = data if isinstance(data, list) else next(
            v for v in data.values() if isinstance(v, list))
        return next(r for r in rows if r["name"] == "hpo-annotations")

    row = listed()
    assert row["status"] == "missing" and "not installed" in row["version"]
    assert row["license"] == "HPO license (https://hpo.jax.org/license)"
    mirror, _ = make_mirror(tmp_path / "mirror")
    kbinstall.install("hpo-annotations", mirror=mirror)
    row = listed()
    assert row["status"] == "installed" and row["version"] == hpoann.HPO_RELEASE
