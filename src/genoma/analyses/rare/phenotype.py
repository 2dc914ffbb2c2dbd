"""Phenotype likelihood ratios of a patient's HPO terms against every disease.

LIRICAL-style (Robinson et al. 2020): the phenotype evidence for disease *d* is the
product over the patient's terms of ``LR = P(term | d) / P(term | background)``. With
``f`` the annotated frequency and ``p(t)`` the share of diseases showing ``t`` (so
``1/p(t) = exp(IC(t))``), an observed term ``q`` gets the best of

* **match**: ``d`` shows ``q`` or a more specific term → ``LR = f · exp(IC(q))``;
* **patient more specific**: ``q`` lies below a term ``a`` annotated to ``d`` →
  ``P(q | d) = f · p(q) / p(a)`` → ``LR = f · exp(IC(a))``;
* **partial**: ``q`` and an annotation of ``d`` share an ancestor ``a`` →
  ``LR = γ · f · exp(IC(a))`` (``γ < 1``: the disease shows a sibling, not ``q``);
  at the root this is the no-match floor ``γ``.

``LR`` is then raised to a power ``alpha`` (tempering the evidence of single rare
terms). An observed term the disease is annotated as ``NOT`` having gets ``LR = ε_not``.
An **excluded** term ``x`` gets ``LR = max(1 - f_d(x), δ) / (1 - p(x))``: a disease
that always shows ``x`` is penalised down to ``δ``.

All diseases are scored at once: per patient term the columns of its ancestors are
gathered from two sparse disease × term matrices (direct annotations and their
true-path closure), so a case costs a few milliseconds.

References
----------
Robinson PN et al. Interpretable Clinical Genomics with a Likelihood Ratio Paradigm.
Am J Hum Genet 2020;107:403-17.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from genoma.analyses.rare.knowledge import RareKnowledge

__all__ = ["PhenotypeParams", "PhenotypeScores", "score_phenotypes"]


@dataclass(frozen=True)
class PhenotypeParams:
    """Parameters of the phenotype likelihood ratios.

    The defaults were fitted on the ``fit`` half of the phenopacket-store dev cases
    (``benchmarks/rare_phenotype_genes.py``, grid over ``gamma``, ``alpha``, ``delta``;
    see ``docs/bench/rare.md``).

    Attributes
    ----------
    gamma
        Weight of a partial match through a common ancestor (and the no-match floor).
    alpha
        Exponent tempering each term's LR.
    delta
        Floor of an excluded term's ``P(not x | d)``.
    eps_not
        LR of an observed term the disease is annotated ``NOT`` to have.
    """

    gamma: float = 0.1
    alpha: float = 1.0
    delta: float = 0.1
    eps_not: float = 0.05


@dataclass
class PhenotypeScores:
    """Phenotype evidence of one patient against every disease row.

    Attributes
    ----------
    log10_lr
        Row → summed log10 LR of all terms.
    observed, excluded
        The (resolved) terms used, in order.
    term_log10_lr
        rows × observed terms: each observed term's log10 LR.
    excluded_log10_lr
        rows × excluded terms.
    best_ancestor
        rows × observed terms: column of the term through which it matched.
    replaced
        Obsolete id → current id substitutions made.
    dropped
        Input ids unknown in the release (ignored).
    """

    log10_lr: np.ndarray
    observed: list[str]
    excluded: list[str]
    term_log10_lr: np.ndarray
    excluded_log10_lr: np.ndarray
    best_ancestor: np.ndarray
    replaced: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def _resolve_all(kn: RareKnowledge, ids: list[str], replaced: dict[str, str],
                 dropped: list[str]) -> list[str]:
    out: list[str] = []
    for t in ids:
        r = kn.resolve(t)
        if r is None:
            dropped.append(t)
            continue
        if r != t:
            replaced[t] = r
        if r not in out:
            out.append(r)
    return out


def score_phenotypes(kn: RareKnowledge, observed: Sequence[str], excluded: Sequence[str] = (),
                     params: PhenotypeParams | None = None) -> PhenotypeScores:
    """Score every disease row against a patient's observed and excluded HPO terms.

    Parameters
    ----------
    kn
        The knowledge (:func:`~genoma.analyses.rare.knowledge.build_knowledge`).
    observed, excluded
        HPO ids; obsolete ones are replaced by their current term, unknown ones dropped
        (both reported in the result).
    params
        Model parameters.

    Returns
    -------
    PhenotypeScores
    """
    prm = params or PhenotypeParams()
    replaced: dict[str, str] = {}
    dropped: list[str] = []
    obs = _resolve_all(kn, list(observed), replaced, dropped)
    exc = [t for t in _resolve_all(kn, list(excluded), replaced, dropped) if t not in obs]
    n = kn.n_rows
    term_lr = np.zeros((n, len(obs)), dtype=np.float64)
    best = np.zeros((n, len(obs)), dtype=np.int32)
    for j, q in enumerate(obs):
        cq = kn.col[q]
        anc = kn.ancestors_cols(cq)
        imp = kn.implied[:, anc].toarray()
        dire = kn.direct[:, anc].toarray()
        w = np.where(anc == cq, 1.0, prm.gamma)[None, :]
        cand = np.maximum(dire, w * imp) * kn.exp_ic[anc][None, :]
        k = np.argmax(cand, axis=1)
        lr = cand[np.arange(n), k]
        lr = np.maximum(lr, prm.gamma)
        not_hit = np.asarray(kn.not_terms[:, anc].sum(axis=1)).ravel() > 0
        lr = np.where(not_hit, prm.eps_not, lr)
        term_lr[:, j] = prm.alpha * np.log10(lr)
        best[:, j] = anc[k]
    exc_lr = np.zeros((n, len(exc)), dtype=np.float64)
    for j, x in enumerate(exc):
        cx = kn.col[x]
        f = kn.implied[:, [cx]].toarray().ravel()
        p_bg = min(float(kn.bg[cx]), 0.99)
        exc_lr[:, j] = np.log10(np.maximum(1.0 - f, prm.delta) / (1.0 - p_bg))
    total = term_lr.sum(axis=1) + exc_lr.sum(axis=1)
    return PhenotypeScores(total, obs, exc, term_lr, exc_lr, best, replaced, dropped)
