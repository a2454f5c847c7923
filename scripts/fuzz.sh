#!/usr/bin/env bash
# Runs every Fuzz target of the module in turn, beyond its seed corpus
# (which plain `go test` already runs).
#
#   scripts/fuzz.sh 2000x    a budget of executions per target: what
#                            `make test` runs, so CI's cost is fixed
#   scripts/fuzz.sh 60s      a budget of time per target: `make fuzz`, for
#                            longer exploration
#
# go test -fuzz takes one target in one package at a time, so the targets
# are found in the test files. When a target fails, go test writes the
# failing input under the package's testdata/fuzz/; this script prints it
# and moves it out of the tree (to $FUZZ_FAILURES, default a temp dir), so a
# failed run never leaves a file that fails every later `go test`. Add the
# input as a seed (f.Add or a committed testdata file) with the fix.
set -euo pipefail
budget="${1:-2000x}"
cd "$(dirname "$0")/.."
failures="${FUZZ_FAILURES:-$(mktemp -d "${TMPDIR:-/tmp}/flagpole-fuzz.XXXXXX")}"
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
while IFS=: read -r file target; do
  pkg="./$(dirname "$file")"
  echo "fuzz: $pkg $target ($budget)"
  if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" "$pkg" >"$log" 2>&1; then
    cat "$log"
    status=1
  fi
  # New failing inputs (untracked files under testdata/fuzz) leave the tree.
  while IFS= read -r found; do
    [ -n "$found" ] || continue
    echo "fuzz: failing input $found:"
    cat "$found"
    mkdir -p "$failures/$(dirname "$found")"
    mv "$found" "$failures/$found"
    echo "fuzz: moved to $failures/$found; add it as a seed with the fix"
  done < <(git ls-files --others --exclude-standard -- "$(dirname "$file")/testdata/fuzz" 2>/dev/null)
done < <(git ls-files '*_test.go' | xargs grep -o '^func Fuzz[A-Za-z0-9_]*' | sed 's/func //')
exit $status
