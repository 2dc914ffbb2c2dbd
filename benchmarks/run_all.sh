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
# Work folders for the benchmarks that simulate their data (kept between runs: simulating
# the 20,000-sample cohort takes ≈ 20 minutes the first time).
WORK=${GENOMA_BENCH_WORK:-/tmp/genoma-bench}
# Cohort GWAS vs plink2 --glm (issue 7), the issue's regime: 20,000 samples × 200,000
# variants with MAF >= 1 % (docs/bench/cohort.md); linear with the scaling runs, then logistic.
DENSE=$WORK/dense200
[ -f "$DENSE/prepare.json" ] || run $PY benchmarks/cohort_glm.py prepare --work "$DENSE" \
  --samples 20000 --length 56000000 --min-maf 0.01 --max-variants 200000 --no-carrier-index
run $PY benchmarks/cohort_glm.py run --work "$DENSE" --repeats 5 --memory 2GB --running-cluster 1,2
run $PY benchmarks/cohort_glm.py run --work "$DENSE" --logistic --repeats 2 --memory 4GB \
  --only plink2,threads,LocalCluster
# The same on rare-variant data (11 Mb unfiltered: 369,877 variants, carrier index); the
# logistic run with Firth fallbacks takes plink2 ≈ 18 minutes.
RARE=$WORK/rare370
[ -f "$RARE/prepare.json" ] || run $PY benchmarks/cohort_glm.py prepare --work "$RARE" \
  --samples 20000 --length 11000000
run $PY benchmarks/cohort_glm.py run --work "$RARE" --repeats 3 --only plink2,threads
run $PY benchmarks/cohort_glm.py run --work "$RARE" --logistic --repeats 1 --only plink2,threads
run $PY benchmarks/risk_portability.py --seeds 1 2 3 --out "$WORK/portability"
for extra in benchmarks/risk_*.py benchmarks/rare_*.py; do
  [ -f "$extra" ] || continue
  case "$extra" in *_common.py|*/risk_portability.py) continue;; esac
  run $PY "$extra"
done
