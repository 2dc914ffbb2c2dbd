#!/usr/bin/env bash
# Peer tools the validation tests compare against (Debian packages): plink2, bcftools.
# Installed when missing and when we may (root with apt-get); otherwise the tests that
# need them skip with a reason. Never fails the build by itself.
set -uo pipefail
need=()
command -v plink2 >/dev/null || need+=(plink2)
command -v bcftools >/dev/null || need+=(bcftools)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "genoma: installing test peers: ${need[*]}" >&2
  { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; } \
    || echo "genoma: could not install ${need[*]}; tests that need them will skip" >&2
else
  echo "genoma: ${need[*]} not installed; tests that compare against them will skip" >&2
fi
exit 0
