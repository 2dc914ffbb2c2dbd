#!/usr/bin/env bash
# Install what the Playwright end-to-end tests (tests/server/e2e/) need:
#   - Debian's Chromium (Playwright drives /usr/bin/chromium; Playwright's own browser
#     downloads are not used, so `playwright install` is never run);
#   - the Python package playwright (from the `test` extra of pyproject.toml) when the
#     given Python lacks it.
# Usage: scripts/browser-deps.sh [PYTHON]   (default: .venv/bin/python, else python3)
# Needs root (or sudo) for apt-get when Chromium is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${1:-}"
if [[ -z "$py" ]]; then
    if [[ -x "$here/.venv/bin/python" ]]; then py="$here/.venv/bin/python"; else py="python3"; fi
fi

if ! command -v chromium >/dev/null 2>&1; then
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
fi
echo "chromium: $(command -v chromium) ($(chromium --version 2>/dev/null || echo 'version unknown'))"

if ! "$py" -c "import playwright" >/dev/null 2>&1; then
    "$py" -m pip install --quiet "playwright>=1.45,<2"
fi
"$py" -c "import importlib.metadata as m; print('playwright', m.version('playwright'))"
