"""genoma.io."""
