"""Property-based tests of the VCF reader (hypothesis-vcf and text mutations).

For every generated file, ``genotypes()`` / ``calls()`` either return results that agree
with an independent reading of the text, or raise a :class:`GenomaError`; never another
exception, never a crash.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pysam
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_vcf import vcf

from genoma.errors import GenomaError
from genoma.io.vcf import open_vcf
from genoma.model.variant import canonical_chrom, normalize_alleles

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_SKIP = {"*", ".", "<NON_REF>", "<*>"}


def _oracle(text: str) -> tuple[list[str], list[tuple]]:
    """Expected rows ``(chrom, pos, ref, alt, gt per sample)`` from the raw text."""
    lines = text.splitlines()
    head = next(line for line in lines if line.startswith("#CHROM")).split("\t")
    samples = head[9:]
    rows = []
    for line in lines:
        if line.startswith("#"):
            continue
        f = line.split("\t")
        alts = [] if f[4] == "." else f[4].split(",")
        keys = f[8].split(":") if len(f) > 8 else []
        gts = []
        for s in f[9:]:
            if keys and keys[0] == "GT":
                toks = re.split(r"[/|]", s.split(":")[0])
                a = [-1 if t == "." else int(t) for t in toks]
                gts.append([*a, -2] if len(a) == 1 else a)
            else:
                gts.append([-1, -1])
        for ai, alt in enumerate(alts, start=1):
            if alt in _SKIP:
                continue
            pos, ref, a = normalize_alleles(int(f[1]), f[3].upper(), alt.upper())
            recoded = [[x if x <= 0 else (1 if x == ai else 2) for x in g] for g in gts]
            rows.append((canonical_chrom(f[0]), pos, ref, a, recoded))
    return samples, rows


def _write(text: str, tmp: Path, compress: bool) -> Path:
    p = tmp / "fuzz.vcf"
    p.write_text(text)
    if compress:
        out = tmp / "fuzz.vcf.gz"
        pysam.tabix_compress(str(p), str(out), force=True)
        return out
    return p


@FUZZ
@given(text=vcf(min_pos=1, max_pos=2**29, max_samples=3, max_variants=4),
       compress=st.booleans())
def test_hypothesis_vcf_agrees_with_text_or_raises_genoma_error(text, compress):
    with tempfile.TemporaryDirectory() as d:
        p = _write(text, Path(d), compress)
        try:
            g = open_vcf(p, build="GRCh38").genotypes()
        except GenomaError:
            return
        samples, rows = _oracle(text)
        assert g.samples == samples
        got = [(c, int(pos), r, a, gt) for c, pos, r, a, gt in zip(
            g.chrom, g.pos, g.ref, g.alt, g.gt.tolist(), strict=True)]
        assert got == rows
        if samples:
            calls = list(open_vcf(p, build="GRCh38").calls(samples[0]))
            assert [(c.variant.pos, c.variant.ref, c.variant.alt) for c in calls] == [
                (pos, ref, alt) for _c, pos, ref, alt, _g in rows]
            want = [tuple(None if x == -1 else x for x in gt[0] if x != -2)
                    for *_r, gt in rows]
            assert [c.genotype.alleles for c in calls] == want


@FUZZ
@given(text=vcf(max_samples=2, max_variants=3))
def test_hypothesis_vcf_any_position_never_crashes(text):
    # default min_pos=0: POS 0 (telomere) must be a MalformedInputError, not garbage
    with tempfile.TemporaryDirectory() as d:
        p = _write(text, Path(d), False)
        try:
            g = open_vcf(p, build="GRCh38").genotypes()
        except GenomaError as exc:
            assert exc.exit_code in (2, 3, 4, 5)
            return
        assert (g.pos >= 1).all()


_NOISE = st.sampled_from(["\t", "\n", " ", ".", "/", "|", ":", ",", "0", "9", "X", "-",
                          "chr1", "\t\t", "", "<", ">", "#", "\r"])


@FUZZ
@given(text=vcf(min_pos=1, max_pos=2**20, max_samples=2, max_variants=3),
       edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 3), _NOISE),
                      min_size=1, max_size=3),
       compress=st.booleans())
def test_mutated_vcf_never_crashes(text, edits, compress):
    """Random edits of the data lines: results or a GenomaError, nothing else."""
    start = text.index("#CHROM")
    start = text.index("\n", start) + 1
    body = text[start:]
    for where, cut, noise in edits:
        if not body:
            break
        i = int(where * len(body))
        body = body[:i] + noise + body[i + cut:]
    with tempfile.TemporaryDirectory() as d:
        p = _write(text[:start] + body, Path(d), compress)
        try:
            vf = open_vcf(p, build="GRCh38")
            g = vf.genotypes()
            if vf.samples:
                list(vf.calls(vf.samples[0]))
        except GenomaError:
            return
        assert (g.pos >= 1).all()
        assert all(re.fullmatch(r"[ACGTN]+", r) for r in g.ref)
