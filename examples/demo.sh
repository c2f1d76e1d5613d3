#!/usr/bin/env bash
# Convene demo: create a node home, publish the sample records in examples/records, search them;
# then run two nodes on this machine (127.0.0.1 only) and watch a second organisation's node
# receive the records, a new one and a retraction.
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

# Two nodes: ours, and a neighbour's in its own home. Loopback only, no LAN discovery.
neighbour="$(dirname "$CONVENE_HOME")/neighbour"
convene --home "$neighbour" init --name "Neighbouring Police Digital Team" > /dev/null
logs="$(dirname "$CONVENE_HOME")"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
start_node() {
  convene --home "$1" node run --listen /ip4/127.0.0.1/tcp/0 --api 127.0.0.1:0 --no-mdns 2> "$2" &
  pids+=($!)
  for _ in $(seq 100); do convene --home "$1" node status > /dev/null 2>&1 && return 0; sleep 0.1; done
  cat "$2"; return 1
}
wait_for() { for _ in $(seq 100); do if eval "$1" > /dev/null 2>&1; then return 0; fi; sleep 0.1; done; return 1; }

step convene node run '&'
start_node "$CONVENE_HOME" "$logs/ours.log"
step convene --home neighbour node run '&'
start_node "$neighbour" "$logs/neighbour.log"

step 'convene --home neighbour peers add "$(convene node ticket)"'
convene --home "$neighbour" peers add "$(convene node ticket)"
wait_for "convene --home '$neighbour' search --kind experiment 'device lending'"

step convene --home neighbour node status
convene --home "$neighbour" node status
step convene --home neighbour search device lending
convene --home "$neighbour" search device lending

step convene publish --yes -   '(a new experiment, while both nodes run)'
address=$(printf 'kind = "experiment"\ntitle = "Community fridge network"\nsummary = "Surplus food shared through fridges in libraries"\nstatus = "running"\n' \
  | convene publish --yes -)
wait_for "convene --home '$neighbour' search fridge"
step convene --home neighbour search fridge
convene --home "$neighbour" search fridge

step convene retract "$address"
convene retract "$address"
wait_for "! convene --home '$neighbour' search fridge"
step convene --home neighbour search fridge
convene --home "$neighbour" search fridge || echo "(nothing: the retraction reached the neighbour)"

cleanup
trap - EXIT

printf '\nDemo home: %s\nTry: CONVENE_HOME=%s convene search "town hall"\n' "$CONVENE_HOME" "$CONVENE_HOME"
