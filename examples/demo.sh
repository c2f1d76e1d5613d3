#!/usr/bin/env bash
# Convene demo: create a node home, publish the sample records in examples/records, search them.
#
# Uses the `convene` on PATH. The home is $CONVENE_HOME if set, else a new temporary directory,
# so running the demo never touches your real Convene home.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
export CONVENE_HOME="${CONVENE_HOME:-$(mktemp -d)/convene-demo}"
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi

step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }

step convene init --name "Example Metropolitan Council"
convene init --name "Example Metropolitan Council"

for draft in "$here"/records/*.toml; do
  step convene publish --yes "records/$(basename "$draft")"
  convene publish --yes "$draft"
done

step convene search digital inclusion
convene search digital inclusion

step convene search chatbot --kind lesson
convene search chatbot --kind lesson

step convene people chatbots
convene people chatbots

step convene list --stale
convene list --stale || true

printf '\nDemo home: %s\nTry: CONVENE_HOME=%s convene search "town hall"\n' "$CONVENE_HOME" "$CONVENE_HOME"
