#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: redis-server (the
# tests start their own instances; they never use a shared one), git, and
# chromium (the dashboard's browser test drives it headless through chromedp).
# Node.js and npm are optional: it notes when they are missing.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Node.js 18+ with npm runs tests/ofrep-js (the official OpenFeature OFREP
# providers against the bearer); without it that test skips, so this only
# says so.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "note: node or npm is missing; tests/ofrep-js will be skipped (install Node.js 18+ and npm, e.g. apt-get install nodejs npm)" >&2
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
