"""genoma.annotate."""
