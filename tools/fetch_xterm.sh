#!/usr/bin/env bash
# Fetches the vendored xterm.js files served by the browser terminals.
#
# The binary embeds static/ (rust-embed), so these files are committed; rerun this
# script only to upgrade. It downloads the published npm tarballs (no install, no
# scripts run), and copies the dist files and both licenses into static/vendor/.
set -euo pipefail

XTERM_VERSION="${XTERM_VERSION:-6.0.0}"
FIT_VERSION="${FIT_VERSION:-0.11.0}"
UNICODE11_VERSION="${UNICODE11_VERSION:-0.9.0}"

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "@xterm/xterm@${XTERM_VERSION}" "@xterm/addon-fit@${FIT_VERSION}" \
    "@xterm/addon-unicode11@${UNICODE11_VERSION}" >/dev/null
mkdir xterm fit unicode11
tar -xzf "xterm-xterm-${XTERM_VERSION}.tgz" -C xterm --strip-components=1
tar -xzf "xterm-addon-fit-${FIT_VERSION}.tgz" -C fit --strip-components=1
tar -xzf "xterm-addon-unicode11-${UNICODE11_VERSION}.tgz" -C unicode11 --strip-components=1

dest="$root/static/vendor"
mkdir -p "$dest/xterm" "$dest/addon-fit" "$dest/addon-unicode11"
cp xterm/lib/xterm.mjs "$dest/xterm/xterm.mjs"
cp xterm/css/xterm.css "$dest/xterm/xterm.css"
cp xterm/LICENSE "$dest/xterm/LICENSE"
cp fit/lib/addon-fit.mjs "$dest/addon-fit/addon-fit.mjs"
cp fit/LICENSE "$dest/addon-fit/LICENSE"
# Unicode 11 widths, so emoji take the two cells programs expect.
cp unicode11/lib/addon-unicode11.mjs "$dest/addon-unicode11/addon-unicode11.mjs"
cp unicode11/LICENSE "$dest/addon-unicode11/LICENSE"
printf '@xterm/xterm %s\n@xterm/addon-fit %s\n@xterm/addon-unicode11 %s\n' \
    "$XTERM_VERSION" "$FIT_VERSION" "$UNICODE11_VERSION" >"$dest/VERSIONS"
echo "vendored xterm ${XTERM_VERSION}, addon-fit ${FIT_VERSION}, addon-unicode11 ${UNICODE11_VERSION} into $dest"
