#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu (.cargo/config.toml): runs a Windows
# test or bench executable under Wine, so `cargo test --target
# x86_64-pc-windows-gnu` works on Linux. tools/test.sh installs wine64 and mingw.
#
# It keeps a private Wine prefix in target/wine-prefix (never ~/.wine), puts
# tools/bcryptprimitives.c, built with mingw, into its system32 (Wine 8 lacks
# that DLL; see the C file), and builds the fake agent for Windows next to the
# executable's profile folder, where tests/it/common/launcher.rs looks for it.
set -euo pipefail

exe="$1"
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
prefix="${CODEX_GOVERNANCE_WINEPREFIX:-$target_dir/wine-prefix}"

# Debian's wine64 package installs its loader outside PATH.
wine="$(command -v wine64 || true)"
[ -n "$wine" ] || wine=/usr/lib/wine/wine64
if [ ! -x "$wine" ]; then
    echo "wine-runner: no wine64 (apt-get install wine64; tools/test.sh does)" >&2
    exit 127
fi

export WINEPREFIX="$prefix" WINEARCH=win64
export WINEDEBUG="${WINEDEBUG:--all}"
# No Mono or Gecko installer dialogs: nothing here needs .NET or a browser engine.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"

mkdir -p "$target_dir"
exec 9>"$target_dir/wine-prefix.lock"
flock 9
if [ ! -f "$prefix/system.reg" ]; then
    echo "wine-runner: creating the Wine prefix $prefix" >&2
    "$wine" wineboot --init >/dev/null 2>&1 || true
    wineserver="$(dirname "$wine")/wineserver"
    [ -x "$wineserver" ] || wineserver=wineserver
    "$wineserver" -w || true
fi
shim_src="$root/tools/bcryptprimitives.c"
shim="$prefix/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$shim" ] || [ "$shim_src" -nt "$shim" ]; then
    x86_64-w64-mingw32-gcc -shared -O2 -s -o "$shim" "$shim_src" -ladvapi32
fi

# The fake agent, built for the same profile as the executable:
# <target>/x86_64-pc-windows-gnu/<profile>/deps/<name>.exe.
profile_dir="$(basename "$(dirname "$(dirname "$exe")")")"
case "$profile_dir" in
    debug) profile=dev ;;
    *) profile="$profile_dir" ;;
esac
# tools/test.sh builds it first and runs the test executables itself, beside
# a Linux cargo that holds the target folder's lock: it says so.
if [ "${CODEX_GOVERNANCE_FAKE_AGENT_BUILT:-}" != 1 ]; then
    cargo build --quiet --manifest-path "$root/Cargo.toml" -p fake-agent \
        --target x86_64-pc-windows-gnu --profile "$profile"
fi
flock -u 9

exec "$wine" "$exe" "$@"
