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

__all__ = ["FEATURES", "PhenotypeParams", "PhenotypeScores", "phenotype_features",
           "score_phenotypes"]

#: Names of the per-disease phenotype features combined by the ``combined`` model
#: (order of :attr:`PhenotypeParams.weights`):
#:
#: * ``lr``: the summed log10 likelihood ratio above;
#: * ``resnik_pd``: Resnik best-match average, patient → disease (mean over patient terms of
#:   the IC of the most informative common ancestor with the disease's terms);
#: * ``resnik_dp``: the same, disease → patient (mean over the disease's annotations);
#: * ``explained``: share of the disease's annotations the patient shows (a patient term
#:   at or below them);
#: * ``explained_f``: the same weighted by annotated frequency (the share of the
#:   *expected* features that were seen);
#: * ``log_size``: natural log of the number of annotations of the disease;
#: * ``excluded``: the summed log10 LR of the excluded terms alone (already inside ``lr``;
#:   its own weight lets excluded terms count more, or less, than observed ones);
#: * ``excluded_shown``: frequency-weighted count of the patient's excluded terms the
#:   disease shows (``Σ_x f_d(x)``, ``f`` from the true-path closure);
#: * ``explained_ic``: share of the disease's annotations the patient shows, weighted by
#:   information content (the specific features count more than generic ones);
#: * ``matched_ic``: share of the patient's information content the disease explains
#:   exactly (patient terms the disease shows, itself or a more specific term).
FEATURES: tuple[str, ...] = ("lr", "resnik_pd", "resnik_dp", "explained", "explained_f",
                             "log_size", "excluded", "excluded_shown", "explained_ic",
                             "matched_ic")


@dataclass(frozen=True)
class PhenotypeParams:
    """Parameters of the phenotype likelihood ratios.

    The defaults were fitted on the ``fit`` half of the phenopacket-store dev cases
    (``benchmarks/rare_phenotype_genes.py``: grid over ``gamma``, ``alpha``, ``delta``,
    first round; ``weights``, third round: conditional-logit fit over the ten
    :data:`FEATURES` on all 3,302 fit cases with one gene and a known disease, HPO
    2025-01-16 annotations; the feature set (all ten, sign-constrained, vs the six of the
    second round) chosen by top-1 on the last 800 fit cases after fitting on the others;
    see ``docs/bench/rare.md``). The weights of ``excluded`` (≥ 0) and
    ``excluded_shown`` (≤ 0) are sign-constrained so that an excluded term never counts
    *for* a disease; on these cases both constraints are active (weight 0): excluded
    terms count against a disease through the ``lr`` feature only.

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
    model
        ``"lr"``: the phenotype score is the summed log10 LR; ``"combined"``: a
        learned linear combination of :data:`FEATURES` (a conditional-logit model fitted
        on the ``fit`` cases, ``benchmarks/rare_phenotype_genes.py``); ``"auto"``
        (default): ``combined`` when the knowledge has gene ↔ disease links (HPO
        annotation files, on which the weights were fitted), else ``lr``. With hpo3
        alone the diseases carry no gene, so the genotype cannot arbitrate between a
        disease and a phenotypically close one; there the combined model ranks the
        demo's cystic-fibrosis patient under a 4-term bronchiectasis entity, while on
        fit cases it names the disease more often (top-1 29.8 % vs 14.0 %), see
        ``docs/bench/rare.md``.
    weights
        Weights of the ``combined`` model.
    gene_profile_offset
        Penalty of gene-profile pseudo-rows in the ``combined`` model (see below).
    """

    gamma: float = 0.1
    alpha: float = 1.0
    delta: float = 0.1
    eps_not: float = 0.05
    model: str = "auto"
    weights: tuple[float, ...] = (0.0601, 0.3309, 0.5786, -0.6142, 2.3508, 0.0691, 0.0, 0.0,
                                  -0.8956, 8.7477)
    gene_profile_offset: float = 3.0
    """log10 subtracted from gene-profile pseudo-rows (``GENE:…``, hpo3-only knowledge)
    in the ``combined`` model: a gene profile is the union of its diseases, so its
    similarity features beat the diseases' own (fit cases, hpo3: disease top-1 19.8 %
    at 0, 29.8 % for any offset ≥ 2)."""
    """Weights of :data:`FEATURES` in the ``combined`` model (natural-log scale: the
    combined phenotype score is ``Σ w·feature / ln 10``, a log10 odds)."""


@dataclass
class PhenotypeScores:
    """Phenotype evidence of one patient against every disease row.

    Attributes
    ----------
    log10_lr
        Row → phenotype score used for ranking (log10 scale): the summed log10 LR of
        all terms (model ``lr``) or the learned combination (model ``combined``).
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
    features
        Feature name (:data:`FEATURES`) → row values (``lr`` is the summed log10 LR).
    """

    log10_lr: np.ndarray
    observed: list[str]
    excluded: list[str]
    term_log10_lr: np.ndarray
    excluded_log10_lr: np.ndarray
    best_ancestor: np.ndarray
    replaced: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    features: dict[str, np.ndarray] = field(default_factory=dict)


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
    if prm.model not in ("lr", "combined", "auto"):
        raise ValueError(f"unknown phenotype model {prm.model!r}")
    model = prm.model
    if model == "auto":
        model = "combined" if kn.has_gene_links else "lr"
    replaced: dict[str, str] = {}
    dropped: list[str] = []
    obs = _resolve_all(kn, list(observed), replaced, dropped)
    exc = [t for t in _resolve_all(kn, list(excluded), replaced, dropped) if t not in obs]
    n = kn.n_rows
    term_lr = np.zeros((n, len(obs)), dtype=np.float64)
    best = np.zeros((n, len(obs)), dtype=np.int32)
    resnik = np.zeros(n, dtype=np.float64)
    matched_ic = np.zeros(n, dtype=np.float64)
    ic_total = 0.0
    in_patient = np.zeros(len(kn.term_ids), dtype=bool)
    for j, q in enumerate(obs):
        cq = kn.col[q]
        anc = kn.ancestors_cols(cq)
        in_patient[anc] = True
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
        resnik += ((imp > 0) * kn.ic[anc][None, :]).max(axis=1)
        matched_ic += (imp[:, int(np.flatnonzero(anc == cq)[0])] > 0) * kn.ic[cq]
        ic_total += float(kn.ic[cq])
    exc_lr = np.zeros((n, len(exc)), dtype=np.float64)
    exc_shown = np.zeros(n, dtype=np.float64)
    for j, x in enumerate(exc):
        cx = kn.col[x]
        f = kn.implied[:, [cx]].toarray().ravel()
        exc_shown += f
        p_bg = min(float(kn.bg[cx]), 0.99)
        exc_lr[:, j] = np.log10(np.maximum(1.0 - f, prm.delta) / (1.0 - p_bg))
    total = term_lr.sum(axis=1) + exc_lr.sum(axis=1)
    feats = phenotype_features(kn, in_patient, resnik / max(len(obs), 1))
    feats["lr"] = total
    feats["excluded"] = exc_lr.sum(axis=1)
    feats["excluded_shown"] = exc_shown
    feats["matched_ic"] = matched_ic / max(ic_total, 1e-9)
    if model == "combined":
        if len(prm.weights) != len(FEATURES):
            raise ValueError(f"expected {len(FEATURES)} weights, got {len(prm.weights)}")
        score = sum(w * feats[f] for w, f in zip(prm.weights, FEATURES, strict=True)
                    if w != 0.0)
        score = np.asarray(score, dtype=np.float64) / np.log(10.0)
        gene_rows = _row_stats(kn)["gene_profile"]
        if prm.gene_profile_offset and gene_rows.any():  # type: ignore[union-attr]
            score = score - prm.gene_profile_offset * gene_rows
    else:
        score = total
    return PhenotypeScores(score, obs, exc, term_lr, exc_lr, best, replaced, dropped, feats)


def _row_stats(kn: RareKnowledge) -> dict[str, object]:
    """Per-knowledge constants of :func:`phenotype_features` (cached on ``kn``)."""
    st = kn.__dict__.get("_pheno_row_stats")
    if st is None:
        direct = kn.direct.tocsr()
        binary = direct.copy()
        binary.data = np.ones_like(binary.data)
        n_annot = np.asarray(binary.sum(axis=1)).ravel().astype(np.float64)
        f_sum = np.asarray(direct.sum(axis=1)).ravel().astype(np.float64)
        st = kn.__dict__["_pheno_row_stats"] = {
            "direct": direct, "binary": binary, "n_annot": np.maximum(n_annot, 1.0),
            "f_sum": np.maximum(f_sum, 1e-9),
            "ic_sum": np.maximum(np.asarray(binary @ kn.ic).ravel(), 1e-9), "seg": np.asarray(kn._anc_ptr[:-1], dtype=np.int64),
            "gene_profile": np.array([d.startswith("GENE:") for d in kn.disease_ids], dtype=bool),
        }
    return st


def phenotype_features(kn: RareKnowledge, in_patient: np.ndarray, resnik_pd: np.ndarray
                       ) -> dict[str, np.ndarray]:
    """Similarity features of every disease row computed from the patient's term set.

    All of :data:`FEATURES` but ``lr``, ``excluded``, ``excluded_shown`` and
    ``matched_ic``, which :func:`score_phenotypes` computes term by term.

    Parameters
    ----------
    kn
        The knowledge.
    in_patient
        Term column → whether it is a patient term or an ancestor of one.
    resnik_pd
        Row → patient → disease Resnik best-match average (computed with the LRs).

    Returns
    -------
    dict
        Feature name → row values.
    """
    st = _row_stats(kn)
    anc = kn._anc
    # best IC shared by each term with the patient: max IC over its ancestors in the patient
    vals = np.where(in_patient[anc], kn.ic[anc], 0.0)
    best_ic = np.maximum.reduceat(vals, st["seg"])  # type: ignore[arg-type]
    binary, direct = st["binary"], st["direct"]
    n_annot, f_sum = st["n_annot"], st["f_sum"]
    hit = in_patient.astype(np.float64)
    return {
        "resnik_pd": resnik_pd,
        "resnik_dp": (binary @ best_ic) / n_annot,  # type: ignore[operator]
        "explained": (binary @ hit) / n_annot,  # type: ignore[operator]
        "explained_f": (direct @ hit) / f_sum,  # type: ignore[operator]
        "log_size": np.log(n_annot),  # type: ignore[arg-type]
        "explained_ic": (binary @ (hit * kn.ic)) / st["ic_sum"],  # type: ignore[operator]
    }
