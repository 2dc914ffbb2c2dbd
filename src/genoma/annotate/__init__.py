"""genoma.annotate: transcript models, consequences (SO terms) and HGVS, VEP-style CSQ output.

Heavy imports stay lazy: import the submodules (``genoma.annotate.csq`` …) directly.
"""

__all__ = ["concordance", "consequence", "csq", "hgvs", "model_cache", "sequence", "transcripts"]
