"""Compiled scoring kernels: polygenic scores straight from genotype codes.

Two kernels compute, in one pass over the matched rows, the score sums of every sample
for every score and the missing calls each sample has among each score's variants:

* :func:`score_bed` reads PLINK 1 ``.bed`` bytes as they are on disk (2-bit codes, four
  samples per byte; memory-mapped), never expanding them to a samples × variants float
  matrix;
* :func:`score_codes` reads small ``int8`` code blocks (ALT allele counts 0/1/2, ``-1``
  missing), e.g. from a VCF or a VCF Zarr ``call_genotype`` chunk.

For each row the kernel first counts the ALT alleles and missing calls among the
selected samples (the row's mean dosage is the value a missing call gets under mean
imputation, as plink2 ``--score`` does by default), then builds a 4-entry table per
score — the contribution of dosage 0, 1, 2 and of a missing call — and adds
``table[code]`` to every sample's sums. Two table forms avoid one lookup per genotype:
a row used by one score gets a 256-entry table indexed by a whole ``.bed`` byte (the
contributions of its four samples at once); rows used by every score are taken four at
a time (from 64 samples up), their four codes of a sample forming one byte that
indexes a 256-entry table of summed contributions. A score whose effect allele is the
target's REF
has weight ``-w`` on the ALT dosage and constant ``2w`` (``ref_const``); a missing call
contributes ``w_alt × fill + ref_const`` with imputation and ``0`` without it, so the
sums equal :func:`genoma.analyses.risk.scoring.compute_scores`'s dense path.

Work is split over row blocks (``numba.prange``), one ``(samples, scores)`` accumulator
per block (2 × threads blocks), summed at the end, so the result does not depend on the
number of threads beyond floating-point rounding. The compiled code is cached on disk
(``cache=True``): the first call in a fresh environment compiles for some seconds.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["FILL_GIVEN", "FILL_MEAN", "FILL_NONE", "bed_row_counts", "score_bed",
           "score_codes"]

FILL_MEAN = 0
"""Missing call → the row's mean ALT dosage among the selected samples."""
FILL_NONE = 1
"""Missing call → no contribution (plink2 ``no-mean-imputation``)."""
FILL_GIVEN = 2
"""Missing call → a dosage given per row (e.g. twice a reference ALT frequency)."""

# PLINK 1 .bed 2-bit code → ALT (A1) dosage; -1 = missing.  00 hom A1, 01 missing,
# 10 het, 11 hom A2.
_BED_DOSE = np.array([2, -1, 1, 0], dtype=np.int64)


def _byte_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per byte value: ALT alleles and missing calls among its four samples."""
    alt = np.zeros(256, dtype=np.int64)
    miss = np.zeros(256, dtype=np.int64)
    for b in range(256):
        for q in range(4):
            d = _BED_DOSE[(b >> (2 * q)) & 3]
            if d < 0:
                miss[b] += 1
            else:
                alt[b] += d
    return alt, miss


_BYTE_ALT, _BYTE_MISS = _byte_tables()


@nb.njit(cache=True, nogil=True)
def _bed_counts_row(bed: np.ndarray, base: int, n_samples: int, sel: np.ndarray,
                    all_samples: bool, byte_alt: np.ndarray,
                    byte_miss: np.ndarray) -> tuple[int, int]:
    """ALT alleles and missing calls of one .bed row among the selected samples."""
    alt = 0
    miss = 0
    if all_samples:
        full = n_samples // 4
        for b in range(full):
            v = bed[base + b]
            alt += byte_alt[v]
            miss += byte_miss[v]
        for s in range(full * 4, n_samples):
            c = (bed[base + (s >> 2)] >> (2 * (s & 3))) & 3
            if c == 1:
                miss += 1
            elif c == 0:
                alt += 2
            elif c == 2:
                alt += 1
    else:
        for i in range(sel.shape[0]):
            s = sel[i]
            c = (bed[base + (s >> 2)] >> (2 * (s & 3))) & 3
            if c == 1:
                miss += 1
            elif c == 0:
                alt += 2
            elif c == 2:
                alt += 1
    return alt, miss


@nb.njit(cache=True, nogil=True)
def _row_table_csr(w: np.ndarray, rc: np.ndarray, lo: int, hi: int, fill: float,
                   impute: bool, table: np.ndarray) -> None:
    """``table[code, q]``: contribution of bed code 0..3 to the row's ``q``-th score."""
    for q in range(hi - lo):
        wq = w[lo + q]
        c = rc[lo + q]
        table[0, q] = 2.0 * wq + c
        table[2, q] = wq + c
        table[3, q] = c
        table[1, q] = (wq * fill + c) if impute else 0.0


_GROUP = 32
"""Rows scored together for a sample while its running sums stay in cache."""


@nb.njit(cache=True, nogil=True)
def _bed_fill(bed: np.ndarray, base: int, n_samples: int, sel: np.ndarray,
              all_samples: bool, fill_mode: int, fill_given: np.ndarray, r: int,
              byte_alt: np.ndarray, byte_miss: np.ndarray) -> float:
    """ALT dosage given to a missing call of row ``r``."""
    if fill_mode == FILL_MEAN:
        alt, miss = _bed_counts_row(bed, base, n_samples, sel, all_samples, byte_alt,
                                    byte_miss)
        ns = sel.shape[0]
        return alt / (ns - miss) if ns > miss else 0.0
    if fill_mode == FILL_GIVEN:
        return fill_given[r]
    return 0.0


_QUAD_MIN_SAMPLES = 64
"""From this many samples, rows are scored four at a time through 256-entry tables."""


@nb.njit(cache=True, nogil=True)
def _group_quads(bed: np.ndarray, bases: np.ndarray, tables: np.ndarray, g: int, k: int,
                 ns: int, sel: np.ndarray, all_samples: bool, indptr: np.ndarray, r: int,
                 pres: np.ndarray, byte_miss: np.ndarray, quad: np.ndarray, a: np.ndarray,
                 nm: np.ndarray, tmp: np.ndarray) -> None:
    """Score ``g`` full rows: four rows' codes form one byte indexing a summed table."""
    nquad = (g + 3) // 4
    for qd in range(nquad):
        for v in range(256):
            for q in range(k):
                quad[qd, v, q] = 0.0
        for m in range(4):
            rr = 4 * qd + m
            if rr >= g:
                continue
            for v in range(256):
                c = (v >> (2 * m)) & 3
                for q in range(k):
                    quad[qd, v, q] += tables[rr, c, q]
    for m in range(g, 4 * nquad):
        bases[m] = bases[0]  # padding rows: zero tables, any valid byte
    for i in range(ns):
        s = i if all_samples else sel[i]
        bi = s >> 2
        sh = 2 * (s & 3)
        for q in range(k):
            tmp[q] = 0.0
        for qd in range(nquad):
            b0 = 4 * qd
            v = (((bed[bases[b0] + bi] >> sh) & 3)
                 | (((bed[bases[b0 + 1] + bi] >> sh) & 3) << 2)
                 | (((bed[bases[b0 + 2] + bi] >> sh) & 3) << 4)
                 | (((bed[bases[b0 + 3] + bi] >> sh) & 3) << 6))
            for q in range(k):
                tmp[q] += quad[qd, v, q]
            if byte_miss[v] > 0:
                for m in range(4):
                    if b0 + m < g and (v >> (2 * m)) & 3 == 1:
                        lo = indptr[r + b0 + m]
                        for q in range(k):
                            nm[i, q] += pres[lo + q]
        for q in range(k):
            a[i, q] += tmp[q]


@nb.njit(cache=True, parallel=True)
def _score_bed(bed: np.ndarray, file_rows: np.ndarray, bytes_per_row: int, n_samples: int,
               sel: np.ndarray, all_samples: bool, indptr: np.ndarray, cols: np.ndarray,
               w: np.ndarray, rc: np.ndarray, pres: np.ndarray, k: int, fill_mode: int,
               fill_given: np.ndarray, n_blocks: int, byte_alt: np.ndarray,
               byte_miss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_rows = file_rows.shape[0]
    ns = sel.shape[0]
    impute = fill_mode != FILL_NONE
    acc = np.zeros((n_blocks, ns, k))
    nmiss = np.zeros((n_blocks, ns, k), dtype=np.int64)
    step = (n_rows + n_blocks - 1) // n_blocks
    for blk in nb.prange(n_blocks):
        a = acc[blk]
        nm = nmiss[blk]
        tables = np.empty((_GROUP, 4, k))
        bases = np.empty(_GROUP, dtype=np.int64)
        tmp = np.empty(k)
        bytetab = np.empty((256, 4))
        quad = np.empty((_GROUP // 4, 256, k))
        r = blk * step
        end = min(n_rows, (blk + 1) * step)
        while r < end:
            if all_samples and indptr[r + 1] - indptr[r] == 1:
                # one score on this row: a 256-entry table gives the contributions of
                # the four samples of a byte at once
                lo = indptr[r]
                base = 3 + file_rows[r] * bytes_per_row
                fill = _bed_fill(bed, base, n_samples, sel, all_samples, fill_mode,
                                 fill_given, r, byte_alt, byte_miss)
                table = tables[0]
                _row_table_csr(w, rc, lo, lo + 1, fill, impute, table)
                for v in range(256):
                    bytetab[v, 0] = table[v & 3, 0]
                    bytetab[v, 1] = table[(v >> 2) & 3, 0]
                    bytetab[v, 2] = table[(v >> 4) & 3, 0]
                    bytetab[v, 3] = table[(v >> 6) & 3, 0]
                j = cols[lo]
                p0 = pres[lo]
                full = n_samples // 4
                for bi in range(full):
                    v = bed[base + bi]
                    s = 4 * bi
                    a[s, j] += bytetab[v, 0]
                    a[s + 1, j] += bytetab[v, 1]
                    a[s + 2, j] += bytetab[v, 2]
                    a[s + 3, j] += bytetab[v, 3]
                    if byte_miss[v] > 0:
                        for q in range(4):
                            if (v >> (2 * q)) & 3 == 1:
                                nm[s + q, j] += p0
                for s in range(full * 4, n_samples):
                    c = (bed[base + (s >> 2)] >> (2 * (s & 3))) & 3
                    a[s, j] += table[c, 0]
                    if c == 1:
                        nm[s, j] += p0
                r += 1
                continue
            # a group of rows used by every score (cols 0..k-1): per sample, add the
            # group's contributions in a small buffer, then to the sums once
            g = 0
            while r + g < end and g < _GROUP and indptr[r + g + 1] - indptr[r + g] == k:
                g += 1
            if g > 0:
                for rr in range(g):
                    base = 3 + file_rows[r + rr] * bytes_per_row
                    bases[rr] = base
                    fill = _bed_fill(bed, base, n_samples, sel, all_samples, fill_mode,
                                     fill_given, r + rr, byte_alt, byte_miss)
                    lo = indptr[r + rr]
                    _row_table_csr(w, rc, lo, lo + k, fill, impute, tables[rr])
                if ns >= _QUAD_MIN_SAMPLES:
                    _group_quads(bed, bases, tables, g, k, ns, sel, all_samples, indptr, r,
                                 pres, byte_miss, quad, a, nm, tmp)
                elif k == 1:
                    for i in range(ns):
                        s = i if all_samples else sel[i]
                        bi = s >> 2
                        sh = 2 * (s & 3)
                        t1 = 0.0
                        for rr in range(g):
                            c = (bed[bases[rr] + bi] >> sh) & 3
                            t1 += tables[rr, c, 0]
                            if c == 1:
                                nm[i, 0] += pres[indptr[r + rr]]
                        a[i, 0] += t1
                else:
                    for i in range(ns):
                        s = i if all_samples else sel[i]
                        bi = s >> 2
                        sh = 2 * (s & 3)
                        for q in range(k):
                            tmp[q] = 0.0
                        for rr in range(g):
                            c = (bed[bases[rr] + bi] >> sh) & 3
                            for q in range(k):
                                tmp[q] += tables[rr, c, q]
                            if c == 1:
                                lo = indptr[r + rr]
                                for q in range(k):
                                    nm[i, q] += pres[lo + q]
                        for q in range(k):
                            a[i, q] += tmp[q]
                r += g
                continue
            # a row used by some of the scores only
            lo = indptr[r]
            hi = indptr[r + 1]
            if hi > lo:
                base = 3 + file_rows[r] * bytes_per_row
                fill = _bed_fill(bed, base, n_samples, sel, all_samples, fill_mode,
                                 fill_given, r, byte_alt, byte_miss)
                table = tables[0]
                _row_table_csr(w, rc, lo, hi, fill, impute, table)
                nq = hi - lo
                for i in range(ns):
                    s = i if all_samples else sel[i]
                    c = (bed[base + (s >> 2)] >> (2 * (s & 3))) & 3
                    for q in range(nq):
                        a[i, cols[lo + q]] += table[c, q]
                    if c == 1:
                        for q in range(nq):
                            nm[i, cols[lo + q]] += pres[lo + q]
            r += 1
    sums = np.zeros((ns, k))
    n_missing = np.zeros((ns, k), dtype=np.int64)
    for blk in range(n_blocks):
        sums += acc[blk]
        n_missing += nmiss[blk]
    return sums, n_missing


@nb.njit(cache=True, parallel=True)
def _bed_row_counts(bed: np.ndarray, file_rows: np.ndarray, bytes_per_row: int,
                    n_samples: int, sel: np.ndarray, all_samples: bool,
                    byte_alt: np.ndarray, byte_miss: np.ndarray) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    n = file_rows.shape[0]
    alt = np.zeros(n, dtype=np.int64)
    miss = np.zeros(n, dtype=np.int64)
    for r in nb.prange(n):
        a, m = _bed_counts_row(bed, 3 + file_rows[r] * bytes_per_row, n_samples, sel,
                               all_samples, byte_alt, byte_miss)
        alt[r] = a
        miss[r] = m
    return alt, miss


def _blocks(n_rows: int) -> int:
    return max(1, min(nb.get_num_threads() * 2, n_rows))


def _rows_csr(w_alt: np.ndarray, ref_const: np.ndarray, present: np.ndarray,
              fill_given: np.ndarray | None, n_rows: int) -> tuple[np.ndarray, ...]:
    """Dense ``(rows, scores)`` weights → per-row lists of the scores that use the row."""
    w = np.asarray(w_alt, dtype=np.float64)
    rc = np.asarray(ref_const, dtype=np.float64)
    pr = np.asarray(present)
    if w.ndim != 2 or w.shape[0] != n_rows or rc.shape != w.shape or pr.shape != w.shape:
        raise ValueError("w_alt, ref_const and present must be (rows, scores) arrays")
    fg = (np.zeros(n_rows) if fill_given is None
          else np.ascontiguousarray(fill_given, dtype=np.float64))
    if fg.shape != (n_rows,):
        raise ValueError("fill_given must have one value per row")
    used = (w != 0) | (rc != 0) | (pr != 0)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(used.sum(axis=1), out=indptr[1:])
    r, cols = np.nonzero(used)
    return (indptr, cols.astype(np.int64), np.ascontiguousarray(w[r, cols]),
            np.ascontiguousarray(rc[r, cols]), (pr[r, cols] != 0).astype(np.int64), fg)


def score_bed(
    bed: np.ndarray,
    file_rows: np.ndarray,
    n_samples: int,
    w_alt: np.ndarray,
    ref_const: np.ndarray,
    present: np.ndarray,
    fill_mode: int = FILL_MEAN,
    fill_given: np.ndarray | None = None,
    samples: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score sums from the packed bytes of a PLINK 1 ``.bed`` file (variant-major).

    Parameters
    ----------
    bed
        The whole ``.bed`` file as ``uint8`` (typically an ``np.memmap``), magic bytes
        included.
    file_rows
        ``(n_rows,)`` variant indices in the file (``.bim`` line order) to score.
    n_samples
        Samples in the file (``.fam`` lines); a row takes ``ceil(n_samples / 4)`` bytes.
    w_alt
        ``(n_rows, n_scores)`` weight on the ALT (A1) dosage of each row.
    ref_const
        ``(n_rows, n_scores)`` constant per called genotype (``2w`` where the effect
        allele is REF).
    present
        ``(n_rows, n_scores)`` non-zero where the row's missing calls count for the
        score (plink2 ``ALLELE_CT``).
    fill_mode
        :data:`FILL_MEAN`, :data:`FILL_NONE` or :data:`FILL_GIVEN`.
    fill_given
        ``(n_rows,)`` ALT dosage of a missing call with :data:`FILL_GIVEN`.
    samples
        Sample indices (``.fam`` order) to score; all samples when ``None``.

    Returns
    -------
    sums : numpy.ndarray
        ``(n_selected_samples, n_scores)`` float64.
    n_missing : numpy.ndarray
        ``(n_selected_samples, n_scores)`` int64 missing calls among each score's rows.

    Raises
    ------
    ValueError
        Rows or samples outside the file, arrays of inconsistent shapes.
    """
    rows = np.ascontiguousarray(file_rows, dtype=np.int64)
    indptr, cols, w, rc, pr, fg = _rows_csr(w_alt, ref_const, present, fill_given,
                                            rows.shape[0])
    k = int(np.shape(w_alt)[1])
    bpr = (n_samples + 3) // 4
    if rows.size and (rows.min() < 0 or 3 + (int(rows.max()) + 1) * bpr > bed.shape[0]):
        raise ValueError("file_rows outside the .bed file")
    all_samples = samples is None
    sel = (np.arange(n_samples, dtype=np.int64) if samples is None
           else np.ascontiguousarray(samples, dtype=np.int64))
    if sel.size and (sel.min() < 0 or sel.max() >= n_samples):
        raise ValueError("sample index outside the .fam")
    if rows.size == 0 or k == 0:
        return np.zeros((sel.shape[0], k)), np.zeros((sel.shape[0], k), dtype=np.int64)
    return _score_bed(bed, rows, bpr, n_samples, sel, all_samples, indptr, cols, w, rc, pr,
                      k, fill_mode, fg, _blocks(rows.shape[0]), _BYTE_ALT, _BYTE_MISS)


def bed_row_counts(bed: np.ndarray, file_rows: np.ndarray, n_samples: int,
                   samples: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """ALT (A1) allele count and missing calls of chosen ``.bed`` rows.

    Returns
    -------
    tuple of numpy.ndarray
        ``(alt_alleles, missing_calls)``, int64, one value per row.
    """
    rows = np.ascontiguousarray(file_rows, dtype=np.int64)
    sel = (np.arange(n_samples, dtype=np.int64) if samples is None
           else np.ascontiguousarray(samples, dtype=np.int64))
    return _bed_row_counts(bed, rows, (n_samples + 3) // 4, n_samples, sel,
                           samples is None, _BYTE_ALT, _BYTE_MISS)


@nb.njit(cache=True, parallel=True)
def _score_codes(codes: np.ndarray, indptr: np.ndarray, cols: np.ndarray, w: np.ndarray,
                 rc: np.ndarray, pres: np.ndarray, k: int, fill_mode: int,
                 fill_given: np.ndarray, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    n_rows = codes.shape[0]
    ns = codes.shape[1]
    kmax = 1
    for r in range(n_rows):
        kmax = max(kmax, indptr[r + 1] - indptr[r])
    acc = np.zeros((n_blocks, ns, k))
    nmiss = np.zeros((n_blocks, ns, k), dtype=np.int64)
    step = (n_rows + n_blocks - 1) // n_blocks
    for blk in nb.prange(n_blocks):
        a = acc[blk]
        nm = nmiss[blk]
        table = np.empty((4, kmax))
        for r in range(blk * step, min(n_rows, (blk + 1) * step)):
            lo = indptr[r]
            hi = indptr[r + 1]
            if hi == lo:
                continue
            row = codes[r]
            fill = 0.0
            if fill_mode == FILL_MEAN:
                alt = 0
                miss = 0
                for s in range(ns):
                    c = row[s]
                    if c < 0:
                        miss += 1
                    else:
                        alt += c
                fill = alt / (ns - miss) if ns > miss else 0.0
            elif fill_mode == FILL_GIVEN:
                fill = fill_given[r]
            # table index as in .bed: 0 = dosage 2, 1 = missing, 2 = dosage 1, 3 = 0
            _row_table_csr(w, rc, lo, hi, fill, fill_mode != FILL_NONE, table)
            nq = hi - lo
            for s in range(ns):
                c = row[s]
                t = 1 if c < 0 else (3 - c if c < 2 else 0)
                for q in range(nq):
                    a[s, cols[lo + q]] += table[t, q]
                if c < 0:
                    for q in range(nq):
                        nm[s, cols[lo + q]] += pres[lo + q]
    sums = np.zeros((ns, k))
    n_missing = np.zeros((ns, k), dtype=np.int64)
    for blk in range(n_blocks):
        sums += acc[blk]
        n_missing += nmiss[blk]
    return sums, n_missing


def score_codes(
    codes: np.ndarray,
    w_alt: np.ndarray,
    ref_const: np.ndarray,
    present: np.ndarray,
    fill_mode: int = FILL_MEAN,
    fill_given: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score sums from ALT allele counts (``int8``: 0, 1, 2; ``-1`` missing).

    Parameters
    ----------
    codes
        ``(n_rows, n_samples)`` ALT allele counts of the rows to score (a VCF block, a
        VCF Zarr ``call_genotype`` chunk summed over ploidy).
    w_alt, ref_const, present, fill_mode, fill_given
        As for :func:`score_bed`.

    Returns
    -------
    sums, n_missing : numpy.ndarray
        ``(n_samples, n_scores)`` score sums and missing calls among each score's rows.

    Raises
    ------
    ValueError
        A code outside -1..2, or arrays of inconsistent shapes.
    """
    c = np.ascontiguousarray(codes, dtype=np.int8)
    if c.ndim != 2:
        raise ValueError("codes must be a (rows, samples) array")
    indptr, cols, w, rc, pr, fg = _rows_csr(w_alt, ref_const, present, fill_given,
                                            c.shape[0])
    k = int(np.shape(w_alt)[1])
    if c.size and (c.min() < -1 or c.max() > 2):
        raise ValueError("codes must be ALT allele counts 0, 1, 2 or -1 (missing)")
    if c.shape[0] == 0 or k == 0:
        return np.zeros((c.shape[1], k)), np.zeros((c.shape[1], k), dtype=np.int64)
    return _score_codes(c, indptr, cols, w, rc, pr, k, fill_mode, fg, _blocks(c.shape[0]))
