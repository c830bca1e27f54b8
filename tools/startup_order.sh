#!/usr/bin/env bash
# Writes tools/startup-order.txt: the symbols of the functions a release
# launcher runs from start to idle (start-up, the page, a status poll, a second
# of idling), as callgrind lists them. tools/build.rs hands the file to the
# linker (lld's --symbol-ordering-file), which lays those functions out side
# by side at the front of .text. The kernel maps a binary's code in 64 KiB
# runs around each page touched, so start-up code spread over the whole
# 9 MB of .text made most of it resident; packed together it is a fraction.
#
# A stale list costs memory, never correctness: a name that no longer exists
# is skipped. Names carry a hash of the build's settings and dependencies, so
# run it again when those change (needs valgrind and curl), then build again:
#   tools/startup_order.sh && cargo build --release
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "startup_order: valgrind is needed" >&2; exit 2; }
command -v curl >/dev/null || { echo "startup_order: curl is needed" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The release build itself and the bench profile's build of the same binary
# (`cargo bench` measures that one): each keeps its symbols, and each names
# its functions with a hash of its own profile, so both are run and listed.
target=$(cargo metadata --format-version 1 --no-deps \
  | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
mkdir "$work/release" "$work/bench"
cargo build --release --bin codex-governance
cp "$target/release/codex-governance" "$work/release/"
cargo bench --no-run --bench status
cp "$target/release/codex-governance" "$work/bench/"
# Runs binary $1 under callgrind from start to idle and prints the names of
# the functions of the binary itself that ran.
profile() {
  local repo="$work/$2/repo" out="$work/$2/out" err="$work/$2/err" pid url base token
  git init -q "$repo"
  git -C "$repo" -c user.name=o -c user.email=o@example.invalid commit -q --allow-empty -m init
  CODEX_GOVERNANCE_TRUST_CONFIG=1 valgrind --tool=callgrind --demangle=no --compress-strings=no \
    --compress-pos=no --dump-instr=no --callgrind-out-file="$work/calls-$2" \
    "$1" serve --port 0 --repo "$repo" >"$out" 2>"$err" &
  pid=$!
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/[^ ]*' "$out" || true)
    [ -n "$url" ] && break
    sleep 0.5
  done
  [ -n "$url" ] || { cat "$err" >&2; echo "startup_order: the launcher did not start" >&2; exit 1; }
  base=$(printf '%s' "$url" | grep -o '^http://127.0.0.1:[0-9]*')
  token=${url##*#token=}
  curl -sf "$base/healthz" >/dev/null
  curl -sf "$base/" >/dev/null || true
  for _ in 1 2 3; do
    curl -sf -H "Authorization: Bearer $token" "$base/api/status" >/dev/null || true
    sleep 1
  done
  kill -TERM "$pid"
  wait "$pid" || true
  # Each function of the binary itself that ran (callgrind's `fn=` lines, and
  # `cfn=` for one called), once, as the profile first names it.
  awk '
    /^ob=/  { ob = substr($0, 4) }
    /^cob=/ { cob = substr($0, 5) }
    /^fn=/  { if (ob ~ /codex-governance$/) print substr($0, 4) }
    /^cfn=/ { if ((cob != "" ? cob : ob) ~ /codex-governance$/) print substr($0, 5); cob = "" }
  ' "$work/calls-$2"
}
{ profile "$work/release/codex-governance" release; profile "$work/bench/codex-governance" bench; } \
  | awk '!seen[$0]++' | grep -v '^0x' > tools/startup-order.txt

echo "startup_order: $(wc -l < tools/startup-order.txt) functions in tools/startup-order.txt"
