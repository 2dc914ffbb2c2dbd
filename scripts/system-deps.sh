#!/usr/bin/env bash
# System libraries genoma needs beyond PyPI: Pango (for WeasyPrint's PDF rendering).
# Installs them with apt-get when missing and when we may (root on Debian/Ubuntu);
# otherwise says what to install and carries on (PDF output then reports the error).
set -euo pipefail
need=()
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || need+=(libpango-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so' || need+=(libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libharfbuzz.so' || need+=(libharfbuzz0b)
ldconfig -p 2>/dev/null | grep -q 'libfontconfig.so' || need+=(fontconfig)
ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so' || need+=(libharfbuzz-subset0)
fc-list 2>/dev/null | grep -q . || need+=(fonts-dejavu-core)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "genoma: installing system packages: ${need[*]}" >&2
  { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; } \
    || echo "genoma: could not install ${need[*]}; PDF output may fail" >&2
else
  echo "genoma: please install ${need[*]} (needed for PDF reports)" >&2
fi
