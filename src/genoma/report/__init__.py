"""genoma.report."""
