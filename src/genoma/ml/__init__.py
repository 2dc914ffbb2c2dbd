"""genoma.ml."""
