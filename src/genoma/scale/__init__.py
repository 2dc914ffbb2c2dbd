"""genoma.scale."""
