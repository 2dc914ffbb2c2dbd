"""genoma.analyses."""
