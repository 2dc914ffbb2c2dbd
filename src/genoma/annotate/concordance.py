"""Field-by-field concordance of two CSQ-annotated VCFs (genoma vs Ensembl VEP).

Entries are matched on (chromosome, position, REF, CSQ ``Allele``, ``Feature``). Each
compared field is counted as agreeing when the strings are equal after two documented
normalisations: HGVSp protein accessions are compared without their ``.version`` (GFF3
files do not carry translation versions), and empty-vs-empty counts as agreement.
"""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Concordance", "compare_csq", "read_csq"]


def _open(path: Path):
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


def read_csq(path: str | Path, *, feature_type: str = "Transcript") -> tuple[list[str], dict[tuple, dict[str, str]]]:
    """Read the CSQ entries of a VCF keyed by (chrom, pos, ref, allele, feature).

    Returns the CSQ field names and the entries (field name → value).
    """
    p = Path(path)
    fields: list[str] = []
    out: dict[tuple, dict[str, str]] = {}
    with _open(p) as fh:
        for line in fh:
            if line.startswith("##INFO=<ID=CSQ"):
                fields = line.split("Format: ", 1)[1].split('"', 1)[0].strip().split("|")
                continue
            if line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t", 8)
            info = cols[7]
            csq = None
            for kv in info.split(";"):
                if kv.startswith("CSQ="):
                    csq = kv[4:]
                    break
            if csq is None:
                continue
            for entry in csq.split(","):
                vals = entry.split("|")
                rec = dict(zip(fields, vals, strict=False))
                if rec.get("Feature_type") != feature_type:
                    continue
                out[(cols[0], int(cols[1]), cols[3], rec["Allele"], rec["Feature"])] = rec
    return fields, out


def _norm_p(v: str) -> str:
    if ":" not in v:
        return v
    acc, desc = v.split(":", 1)
    return acc.split(".", 1)[0] + ":" + desc


@dataclass
class Concordance:
    """Agreement counts per field on the compared entries."""

    n: int = 0
    missing_in_test: int = 0
    extra_in_test: int = 0
    agree: Counter = field(default_factory=Counter)
    disagreements: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[tuple]] = field(default_factory=dict)

    def rate(self, name: str) -> float:
        """Fraction of compared entries agreeing on ``name`` (missing entries count as disagreeing)."""
        total = self.n + self.missing_in_test
        return self.agree[name] / total if total else float("nan")


def compare_csq(truth: dict[tuple, dict[str, str]], test: dict[tuple, dict[str, str]],
                keep: set[tuple] | None = None,
                fields: tuple[str, ...] = ("Consequence", "HGVSc", "HGVSp"),
                max_examples: int = 5) -> Concordance:
    """Compare two CSQ tables (from :func:`read_csq`).

    Parameters
    ----------
    truth, test
        Entries keyed by (chrom, pos, ref, allele, feature).
    keep
        Keys to compare (default: all of ``truth``).
    fields
        Fields to compare.
    max_examples
        Examples kept per disagreement class.
    """
    res = Concordance()
    keys = keep if keep is not None else set(truth)
    for key in keys:
        t = truth.get(key)
        if t is None:
            continue
        g = test.get(key)
        if g is None:
            res.missing_in_test += 1
            continue
        res.n += 1
        for f in fields:
            a, b = t.get(f, ""), g.get(f, "")
            if f == "HGVSp":
                a, b = _norm_p(a), _norm_p(b)
            if a == b:
                res.agree[f] += 1
            else:
                cls = f"{t.get('Consequence', '')} -> {g.get('Consequence', '')}" if f == "Consequence" \
                    else f"{t.get('Consequence', '')}: {'empty' if not a else 'set'} vs {'empty' if not b else 'set'}"
                res.disagreements.setdefault(f, Counter())[cls] += 1
                ex = res.examples.setdefault(f + "|" + cls, [])
                if len(ex) < max_examples:
                    ex.append((key, a, b))
    return res
