#!/usr/bin/env bash
# Fetches axe-core, the accessibility checker the browser tests inject into the
# dashboard (tests/it/common/axe.rs). Tests only: nothing under tests/vendor is
# served by the product. The files are committed; rerun this script only to
# upgrade (and update the pinned integrity). It downloads the published npm
# tarball (no install, no scripts run), checks its sha512 and copies the
# minified script and its license.
set -euo pipefail

AXE_VERSION="${AXE_VERSION:-4.14.1}"
AXE_INTEGRITY="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "axe-core@${AXE_VERSION}" >/dev/null
tarball="axe-core-${AXE_VERSION}.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$AXE_INTEGRITY" ]; then
    echo "axe-core ${AXE_VERSION}: integrity $got is not the pinned $AXE_INTEGRITY" >&2
    exit 1
fi
mkdir axe
tar -xzf "$tarball" -C axe --strip-components=1

dest="$root/tests/vendor/axe-core"
mkdir -p "$dest"
cp axe/axe.min.js "$dest/axe.min.js"
cp axe/LICENSE "$dest/LICENSE"
printf 'axe-core %s %s\n' "$AXE_VERSION" "$AXE_INTEGRITY" >"$dest/VERSIONS"
echo "vendored axe-core ${AXE_VERSION} into $dest"
