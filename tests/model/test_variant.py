from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from genoma.model.variant import Variant, canonical_chrom, normalize_alleles


@pytest.mark.parametrize(
    ("raw", "canon"),
    [("1", "chr1"), ("chr1", "chr1"), ("MT", "chrM"), ("chrM", "chrM"), ("x", "chrX"),
     ("chr22", "chr22"), ("GL000192.1", "GL000192.1"), ("chr1_KI270706v1_random",
                                                       "chr1_KI270706v1_random")],
)
def test_canonical_chrom(raw: str, canon: str) -> None:
    assert canonical_chrom(raw) == canon


@pytest.mark.parametrize(
    ("inp", "out"),
    [
        ((100, "CAGT", "CT"), (100, "CAG", "C")),
        ((100, "GAT", "GCT"), (101, "A", "C")),
        ((100, "A", "AT"), (100, "A", "AT")),
        ((100, "ATTT", "ATT"), (100, "AT", "A")),
        ((5, "G", "T"), (5, "G", "T")),
    ],
)
def test_normalize_alleles(inp, out) -> None:
    assert normalize_alleles(*inp) == out


bases = st.text(alphabet="ACGT", min_size=1, max_size=8)


@given(pos=st.integers(1, 10**8), ref=bases, alt=bases)
def test_normalize_is_idempotent_and_parsimonious(pos: int, ref: str, alt: str) -> None:
    if ref == alt:
        return
    p, r, a = normalize_alleles(pos, ref, alt)
    assert normalize_alleles(p, r, a) == (p, r, a)
    assert r != a and len(r) >= 1 and len(a) >= 1
    # shared suffix removed unless one allele is a single anchor base
    assert not (len(r) > 1 and len(a) > 1 and r[-1] == a[-1])
    assert p >= pos


def test_variant_validation() -> None:
    v = Variant(chrom="7", pos=117559590, ref="att", alt="A", build="GRCh38")
    assert v.chrom == "chr7" and v.ref == "ATT"
    assert v.key == "chr7:117559590:ATT:A"
    assert v.end == 117559592
    with pytest.raises(ValidationError):
        Variant(chrom="1", pos=0, ref="A", alt="G", build="GRCh38")
    with pytest.raises(ValidationError):
        Variant(chrom="1", pos=5, ref="A", alt="A", build="GRCh38")
    with pytest.raises(ValidationError):
        Variant(chrom="1", pos=5, ref="A", alt="G", build="hg19")
    with pytest.raises(ValidationError):
        Variant(chrom="1", pos=5, ref="A", alt="Z", build="GRCh38")


def test_digest_is_representation_independent() -> None:
    a = Variant(chrom="chr1", pos=100, ref="GAT", alt="GCT", build="GRCh38")
    b = Variant(chrom="1", pos=101, ref="A", alt="C", build="GRCh38")
    assert a.digest() == b.digest()
    c = Variant(chrom="1", pos=101, ref="A", alt="C", build="GRCh37")
    assert c.digest() != b.digest()
