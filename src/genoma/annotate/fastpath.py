"""Vectorised classification of allele × transcript pairs (the annotator's fast path).

About 85-90 % of allele × transcript pairs in a real VCF need no sequence work: they lie
up- or downstream of the transcript, or deep inside an intron (at least
:data:`DEEP_MARGIN` bases from both exons, so no splice term can apply). Those pairs are
found for all alleles of a batch at once with NumPy (one ``searchsorted`` over the exon
boundaries of every transcript of the chromosome, keyed by transcript), and their CSQ
fields are built from per-transcript templates. Every other pair goes through
:func:`genoma.annotate.consequence.annotate_allele` (the per-pair reference path), so the
output is identical to annotating every pair one by one (``tests/annotate`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoma.annotate.transcripts import Transcript

__all__ = ["DEEP_MARGIN", "EXON_MARGIN", "PAIR_DEEP_INTRON", "PAIR_DOWN", "PAIR_EXON_INNER", "PAIR_NONE",
           "PAIR_OTHER", "PAIR_UP",
           "PairClasses", "TranscriptArrays"]

#: Distance (bases) from both exon edges beyond which an intronic allele gets
#: ``intron_variant`` only (the widest splice feature, the polypyrimidine tract, reaches
#: intron base 17 from the acceptor).
DEEP_MARGIN = 20
UPSTREAM = 5000
DOWNSTREAM = 5000
_KEY = np.int64(1) << np.int64(32)  # > any chromosome length: key = transcript * 2**32 + pos

#: Bases from an exon edge within which splice features can apply (splice region: 3 exon bases).
EXON_MARGIN = 3

PAIR_NONE, PAIR_UP, PAIR_DOWN, PAIR_DEEP_INTRON, PAIR_OTHER, PAIR_EXON_INNER = 0, 1, 2, 3, 4, 5


class TranscriptArrays:
    """Transcript spans and exon boundaries as flat NumPy arrays (all chromosomes).

    Parameters
    ----------
    transcripts
        The models, in the annotator's order (indices are shared).
    """

    def __init__(self, transcripts: list[Transcript]):
        n = len(transcripts)
        self.start = np.fromiter((t.start for t in transcripts), np.int64, n)
        self.end = np.fromiter((t.end for t in transcripts), np.int64, n)
        self.strand = np.fromiter((t.strand for t in transcripts), np.int64, n)
        self.n_exons = np.fromiter((len(t.exon_starts) for t in transcripts), np.int64, n)
        self.offset = np.zeros(n + 1, np.int64)
        np.cumsum(self.n_exons, out=self.offset[1:])
        if n:
            self.exon_starts = np.concatenate([np.asarray(t.exon_starts, np.int64) for t in transcripts])
            self.exon_ends = np.concatenate([np.asarray(t.exon_ends, np.int64) for t in transcripts])
        else:
            self.exon_starts = self.exon_ends = np.zeros(0, np.int64)
        owner = np.repeat(np.arange(n, dtype=np.int64), self.n_exons)
        self.key = owner * _KEY + self.exon_starts  # sorted: transcripts in order, exons sorted

    def classify(self, vs: np.ndarray, ve: np.ndarray, t: np.ndarray) -> PairClasses:
        """Classify pairs (allele span ``vs..ve`` in VEP coordinates, transcript ``t``).

        Parameters
        ----------
        vs, ve
            Allele starts and ends per pair (insertion: ``vs = ve + 1``).
        t
            Transcript index per pair.

        Returns
        -------
        PairClasses
        """
        ts, te, strand = self.start[t], self.end[t], self.strand[t]
        ov = (vs <= te) & (ve >= ts)
        left = ~ov & (ve < ts) & (ve >= ts - UPSTREAM)
        right = ~ov & (vs > te) & (vs <= te + DOWNSTREAM)
        plus = strand == 1
        cls = np.full(len(t), PAIR_NONE, np.int8)
        cls[(left & plus) | (right & ~plus)] = PAIR_UP
        cls[(left & ~plus) | (right & plus)] = PAIR_DOWN
        distance = np.where(left, ts - ve, vs - te)
        lo, hi = np.minimum(vs, ve), np.maximum(vs, ve)
        g = np.searchsorted(self.key, t * _KEY + lo, side="right") - 1
        first = self.offset[t]
        valid = ov & (g >= first) & (g < first + self.n_exons[t] - 1)
        gc = np.clip(g, 0, max(len(self.key) - 2, 0))
        if len(self.key) >= 2:
            i_s = self.exon_ends[gc] + 1
            i_e = self.exon_starts[gc + 1] - 1
            deep = valid & (lo >= i_s + DEEP_MARGIN) & (hi <= i_e - DEEP_MARGIN)
        else:
            deep = np.zeros(len(t), bool)
        gi = np.clip(g, 0, max(len(self.key) - 1, 0))
        if len(self.key):
            inner = (ov & (g >= first) & (g < first + self.n_exons[t])
                     & (lo >= self.exon_starts[gi] + EXON_MARGIN) & (hi <= self.exon_ends[gi] - EXON_MARGIN))
        else:
            inner = np.zeros(len(t), bool)
        cls[ov] = PAIR_OTHER
        cls[deep] = PAIR_DEEP_INTRON
        cls[inner] = PAIR_EXON_INNER
        return PairClasses(cls, distance, np.where(inner, gi, gc), np.where(inner, gi, gc) - first)


@dataclass
class PairClasses:
    """Result of :meth:`TranscriptArrays.classify` (arrays over pairs).

    Attributes
    ----------
    cls
        ``PAIR_NONE`` (beyond 5 kb), ``PAIR_UP``, ``PAIR_DOWN``, ``PAIR_DEEP_INTRON``,
        ``PAIR_EXON_INNER`` (inside one exon, at least :data:`EXON_MARGIN` bases from its
        edges) or ``PAIR_OTHER`` (needs the per-pair path).
    distance
        Distance to the transcript for up / downstream pairs.
    exon
        Global index of the exon left of the allele (deep intronic pairs) or holding it
        (inner exonic pairs).
    exon_local
        The same, within the transcript (genomic order).
    """

    cls: np.ndarray
    distance: np.ndarray
    exon: np.ndarray
    exon_local: np.ndarray
