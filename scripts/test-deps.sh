#!/usr/bin/env bash
# Peer tools the validation tests compare against (Debian packages): plink2, plink1.9, bcftools.
# Installed when missing and when we may (root with apt-get); otherwise the tests that
# need them skip with a reason. Never fails the build by itself.
set -uo pipefail
need=()
command -v plink2 >/dev/null || need+=(plink2)
command -v bcftools >/dev/null || need+=(bcftools)
command -v plink1.9 >/dev/null || need+=(plink1.9)
# pgscatalog-calc (the ancestry-adjustment peer) pins numpy 1.x: its own venv.
peer=.venv-peers/pgscalc
if [ ! -x "$peer/bin/pgscatalog-ancestry-adjust" ]; then
  { python3 -m venv "$peer" && "$peer/bin/pip" install -q "pgscatalog-calc==0.3.1"; } >/dev/null 2>&1 \
    || echo "genoma: could not install pgscatalog-calc; the peer comparison will skip" >&2
fi
# Browser for the web app's end-to-end tests (Debian chromium + playwright driver).
bash scripts/browser-deps.sh .venv/bin/python \
  || echo "genoma: chromium missing; browser tests will skip (fail under CI=true)" >&2
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "genoma: installing test peers: ${need[*]}" >&2
  { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; } \
    || echo "genoma: could not install ${need[*]}; tests that need them will skip" >&2
else
  echo "genoma: ${need[*]} not installed; tests that compare against them will skip" >&2
fi
exit 0
