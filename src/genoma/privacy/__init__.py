"""genoma.privacy."""
