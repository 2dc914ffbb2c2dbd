"""genoma kb install: file:// mirrors, checksums, atomicity, verification."""

from __future__ import annotations

import gzip
import hashlib
import urllib.parse
from pathlib import Path

import pytest

from genoma.config import settings
from genoma.errors import InconsistentInputError, KnowledgeError
from genoma.kb import genes as kbgenes
from genoma.kb import install as kbinstall
from genoma.kb.base import get_source

from conftest import require_shared

GFF_LINES = [
    "chr17\tHAVANA\tgene\t41196312\t41277500\t.\t-\t.\tID=ENSG00000012048.23;gene_id=ENSG00000012048.23;gene_type=protein_coding;gene_name=BRCA1;hgnc_id=HGNC:1100",
    "chr10\tHAVANA\tgene\t96522463\t96612671\t.\t+\t.\tID=ENSG00000165841.11;gene_id=ENSG00000165841.11;gene_type=protein_coding;gene_name=CYP2C19;hgnc_id=HGNC:2621",
]


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("GENOMA_HOME", str(h))
    monkeypatch.delenv("GENOMA_KB_MIRROR", raising=False)
    from genoma.kb import base

    base.reset_cache()
    return h


def make_mirror(root: Path, name: str, lines: list[str] = GFF_LINES) -> tuple[str, str]:
    """Write a GFF3 at the path of ``name``'s default release URL under ``root``."""
    rel = get_source(name).releases()[0]
    dest = root / urllib.parse.urlsplit(rel.url).path.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(dest, "wt") as fh:
        fh.write("##gff-version 3\n" + "\n".join(lines) + "\n")
    return root.as_uri(), hashlib.sha256(dest.read_bytes()).hexdigest()


def test_resolve_url_rules(monkeypatch):
    url = "https://ftp.example.org/pub/a/b.gz"
    assert kbinstall.resolve_url(url, None) == url
    assert kbinstall.resolve_url(url, "file:///m/") == "file:///m/pub/a/b.gz"
    assert kbinstall.resolve_url(url, "https://ftp.example.org/pub=file:///x") == "file:///x/a/b.gz"
    assert kbinstall.resolve_url(url, "https://other/=file:///x") == url
    monkeypatch.setenv("GENOMA_KB_MIRROR", "https://mirror.test/kb")
    assert kbinstall.resolve_url(url) == "https://mirror.test/kb/pub/a/b.gz"


def test_install_grch37_from_file_mirror_enables_grch37(home, tmp_path):
    with pytest.raises(InconsistentInputError):
        kbgenes.gene("BRCA1", "GRCh37")
    mirror, digest = make_mirror(tmp_path / "mirror", "gencode-grch37")
    seen = []
    rec = kbinstall.install(
        "gencode-grch37", mirror=mirror, sha256=digest, progress=lambda d, t: seen.append(d)
    )
    assert rec.sha256 == digest and rec.version == "46lift37"
    assert rec.path == settings().kb_dir / "gencode-grch37" / "46lift37" / rec.filename
    assert rec.path.exists() and (rec.directory / "installed.json").exists()
    assert rec.url.startswith("https://ftp.ebi.ac.uk/")  # the official URL is recorded
    assert seen and seen[-1] == rec.size
    assert not list(rec.directory.glob("*.part"))
    g = kbgenes.gene("BRCA1", "GRCh37")
    assert (g.chrom, g.start, g.end) == ("chr17", 41196312, 41277500)
    assert [x.symbol for x in kbgenes.genes_at("chr10", 96_600_000, "GRCh37")] == ["CYP2C19"]
    assert kbgenes.gene_source("GRCh37").name == "gencode-grch37"
    assert (rec.directory / "genes.npz").exists()
    assert kbinstall.verify("gencode-grch37") == get_source("gencode-grch37").checksum()
    # installing again is a no-op; --force re-downloads
    assert kbinstall.install("gencode-grch37", mirror=mirror).date == rec.date
    again = kbinstall.install("gencode-grch37", mirror=mirror, force=True)
    assert again.sha256 == digest


def test_wrong_checksum_leaves_nothing(home, tmp_path):
    mirror, _ = make_mirror(tmp_path / "mirror", "gencode-grch37")
    with pytest.raises(KnowledgeError, match="checksum mismatch") as exc:
        kbinstall.install("gencode-grch37", mirror=mirror, sha256="0" * 64)
    assert exc.value.exit_code == 6
    kb = settings().kb_dir / "gencode-grch37"
    assert not kb.exists() or not any(kb.rglob("*"))
    assert not get_source("gencode-grch37").is_available()


def test_release_checksum_from_source_is_enforced(home, tmp_path, monkeypatch):
    mirror, digest = make_mirror(tmp_path / "mirror", "gencode-grch38")
    src = type(get_source("gencode-grch38"))
    rel = src().releases()[0]
    bad = kbinstall.Release(rel.version, rel.url, rel.filename, sha256="f" * 64)
    monkeypatch.setattr(src, "releases", lambda self: [bad])
    with pytest.raises(KnowledgeError, match="checksum mismatch"):
        kbinstall.install("gencode-grch38", mirror=mirror)
    good = kbinstall.Release(rel.version, rel.url, rel.filename, sha256=digest)
    monkeypatch.setattr(src, "releases", lambda self: [good])
    assert kbinstall.install("gencode-grch38", mirror=mirror).sha256 == digest


def test_unparseable_release_is_rolled_back(home, tmp_path):
    mirror, _ = make_mirror(tmp_path / "mirror", "gencode-grch37", ["chr1\tbroken"])
    with pytest.raises(KnowledgeError):
        kbinstall.install("gencode-grch37", mirror=mirror)
    kb = settings().kb_dir / "gencode-grch37"
    assert not kb.exists() or not any(kb.rglob("*"))


def test_verify_detects_altered_file(home, tmp_path):
    mirror, _ = make_mirror(tmp_path / "mirror", "gencode-grch37")
    rec = kbinstall.install("gencode-grch37", mirror=mirror)
    with open(rec.path, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(KnowledgeError, match="altered"):
        kbinstall.verify("gencode-grch37")


def test_errors_for_unknown_things(home, tmp_path):
    with pytest.raises(KnowledgeError, match="unknown knowledge source"):
        kbinstall.install("no-such-source")
    with pytest.raises(KnowledgeError, match="embedded"):
        kbinstall.install("hpo")
    with pytest.raises(KnowledgeError, match="no release"):
        kbinstall.install("gencode-grch37", version="1")
    with pytest.raises(KnowledgeError, match="download"):
        kbinstall.install("gencode-grch37", mirror=(tmp_path / "empty").as_uri())
    with pytest.raises(KnowledgeError, match="not installed"):
        kbinstall.verify("gencode-grch37")


def test_install_real_chr21_gff3_via_prefix_mirror(home):
    real = require_shared("annotation", "transcripts", "ensembl_vep_test.chr21_full.gff3.gz")
    rel = get_source("gencode-grch38").releases()[0]
    kbinstall.install("gencode-grch38", mirror=f"{rel.url}={real.as_uri()}")
    assert kbgenes.gene_source("GRCh38").name == "gencode-grch38"
    app = kbgenes.gene("APP", "GRCh38")
    assert (app.chrom, app.start, app.end) == ("chr21", 25880550, 26171128)


def test_source_module_map_matches_the_registry():
    """``genoma.kb.sources.SOURCE_MODULE`` (used to import one module per source) names
    exactly the module that registers each source."""
    from genoma.kb import sources
    from genoma.kb.base import _REGISTRY

    sources.load()
    assert {n: c.__module__ for n, c in _REGISTRY.items()} == sources.SOURCE_MODULE
