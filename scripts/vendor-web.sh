#!/usr/bin/env bash
# Vendor the web app's front-end libraries into src/genoma/server/static/vendor/.
#
# Pinned versions, checked against the sha256 of the npm tarball. The files are
# committed, so a fresh machine serves the app without npm or any network access;
# run this script only to re-vendor (or to upgrade: change a version AND its sha256).
#
#   preact 11.2.0  (MIT)  dist/preact.mjs        -> vendor/preact.js
#                         hooks/dist/hooks.mjs   -> vendor/hooks.js
#   htm    3.1.1   (Apache-2.0) dist/htm.module.js -> vendor/htm.js
#
# The only change made to a vendored file: hooks.js imports the bare specifier
# "preact", which a browser cannot resolve without an import map; it is rewritten
# to the relative "./preact.js" (no inline import map is needed, so a strict
# Content-Security-Policy `script-src 'self'` keeps working). Files are renamed
# .mjs -> .js so every static server sends a JavaScript media type.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$here/src/genoma/server/static/vendor"

PREACT_VERSION=11.2.0
PREACT_SHA256=3c4456766bd32b6b534d52bf4e9c2a29b33e7eedf6e96ed479300ba1a7888ebf
HTM_VERSION=3.1.1
HTM_SHA256=2425b9bee11409177bcabc7f32e319926fc6690c1701c0b257c88bdff2d5ba90

command -v npm >/dev/null || { echo "vendor-web.sh: npm is required (apt-get install -y npm)" >&2; exit 3; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # name version sha256 -> extracted dir $work/name/package
    local name="$1" version="$2" sha="$3" tgz
    tgz="$(cd "$work" && npm pack --silent "$name@$version" 2>/dev/null | tail -n 1)"
    echo "$sha  $work/$tgz" | sha256sum --check --quiet - \
        || { echo "vendor-web.sh: sha256 mismatch for $name@$version" >&2; exit 4; }
    mkdir -p "$work/$name"
    tar -xzf "$work/$tgz" -C "$work/$name"
}

fetch preact "$PREACT_VERSION" "$PREACT_SHA256"
fetch htm "$HTM_VERSION" "$HTM_SHA256"

mkdir -p "$dest"
cp "$work/preact/package/dist/preact.mjs" "$dest/preact.js"
sed 's#from"preact"#from"./preact.js"#g' "$work/preact/package/hooks/dist/hooks.mjs" > "$dest/hooks.js"
grep -q 'from"./preact.js"' "$dest/hooks.js" \
    || { echo "vendor-web.sh: hooks.js import rewrite failed" >&2; exit 4; }
cp "$work/preact/package/LICENSE" "$dest/LICENSE.preact"
cp "$work/htm/package/dist/htm.module.js" "$dest/htm.js"
cp "$work/htm/package/LICENSE" "$dest/LICENSE.htm"

cat > "$dest/VERSIONS" <<V
preact $PREACT_VERSION sha256(tarball)=$PREACT_SHA256 MIT
htm $HTM_VERSION sha256(tarball)=$HTM_SHA256 Apache-2.0
V
echo "vendored into $dest:"
ls -l "$dest"
