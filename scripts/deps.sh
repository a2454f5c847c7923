#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: redis-server (the
# tests start their own instances; they never use a shared one), git, and
# chromium (the dashboard's browser test drives it headless through chromedp).
# Node.js and npm are optional: it notes when they are missing.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v git >/dev/null 2>&1 || missing+=(git)
# Node.js 18+ with npm runs tests/ofrep-js (the official OpenFeature OFREP
# providers against the bearer); without it that test skips, so this only
# says so.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "note: node or npm is missing; tests/ofrep-js will be skipped (install Node.js 18+ and npm, e.g. apt-get install nodejs npm)" >&2
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
updated=""
install() {
  [ -n "$updated" ] || { $SUDO apt-get update -qq && updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  install "${missing[@]}"
fi
# Chromium is wanted, not required: when it cannot be installed the browser
# test skips and says why, and the rest of the suite still runs.
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing: chromium" >&2
  install chromium || echo "note: chromium could not be installed; the dashboard's browser test will be skipped" >&2
fi
