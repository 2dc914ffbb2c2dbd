"""genoma.ml: model registry, training/evaluation harness and explanations.

- :mod:`genoma.ml.hgvs_grammar`: strict HGVS ``c.``/``n.``/``p.`` parser.
- :mod:`genoma.ml.aaprops`: amino-acid substitution tables (BLOSUM62, Grantham, …).
- :mod:`genoma.ml.pathogenicity`: features, calibrated model, gene-held-out evaluation,
  SHAP explanations, model registry (``models/``) and :func:`~genoma.ml.pathogenicity.predict_variants`.
- :mod:`genoma.ml.training_data`: the labelled table built from ``../shared/data``
  (development only).

Submodules are imported on demand (scikit-learn and shap are heavy).
"""
