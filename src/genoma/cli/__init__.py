"""genoma.cli."""
