#!/usr/bin/env bash
# `make bench`: the full side-by-side benchmarks (not run in CI). Each script prints
# its results and can write its Markdown section (see docs/benchmarks.md for the exact
# commands, dates and numbers). Peers come from Debian (bcftools, plink2, snpeff) and
# PyPI (pypgx, pgscatalog-calc, crypt4gh); install them first where a script says so.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
run() { echo "== $*" >&2; "$@" || echo "!! failed: $*" >&2; }
run $PY benchmarks/pgx_calling.py --getrm
run $PY benchmarks/warfarin_cv.py
run $PY benchmarks/annotate_vep.py --repeat 3
run $PY benchmarks/annotate_bcftools_windows.py
run $PY benchmarks/vault_throughput.py bench --size-mb 200 --runs 10
run $PY benchmarks/acmg_clinvar_crosscheck.py
run env OMP_NUM_THREADS=1 $PY benchmarks/train_pathogenicity.py --no-save
# server load test needs locust (not a project dependency): pip install locust
if $PY -c "import locust" 2>/dev/null; then run $PY benchmarks/server_load.py --users 50 --duration 60; fi
for extra in benchmarks/cohort_*.py benchmarks/risk_*.py benchmarks/rare_*.py; do
  [ -f "$extra" ] || continue
  case "$extra" in *_common.py) continue;; esac
  run $PY "$extra"
done
