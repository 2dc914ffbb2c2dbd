"""genoma.analyses.pgx."""
