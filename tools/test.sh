#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Chromium and its driver for
# the browser tests, Python 3 for the fake agent, git), then runs `cargo test`.
# A missing tool is installed here, never skipped by a test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v git >/dev/null 2>&1 || missing+=(git)
# Node and npm install the pinned Codex CLI that the Codex backend's tests drive.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The linker for the Windows build (issue: native Windows).
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing+=(gcc-mingw-w64-x86-64)
# CJK and emoji fonts, so screenshots show glyphs rather than boxes.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
if [ ${#missing[@]} -gt 0 ]; then
    echo "tools/test.sh: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The real Codex CLI, pinned, from the npm registry (tests/support/model_server.rs finds it here).
CODEX_VERSION=0.169.0
codex_dir="$HOME/.cache/codex-governance/codex-$CODEX_VERSION"
if [ ! -x "$codex_dir/node_modules/.bin/codex" ]; then
    echo "tools/test.sh: installing @openai/codex@$CODEX_VERSION into $codex_dir"
    npm install --prefix "$codex_dir" --no-audit --no-fund --loglevel=error "@openai/codex@$CODEX_VERSION"
fi
"$codex_dir/node_modules/.bin/codex" --version

# Windows: the build must stay clean (clippy) and link (a release .exe).
rustup target list --installed | grep -qx x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu
cargo clippy --lib --bins --target x86_64-pc-windows-gnu -- -D warnings
cargo build --release --target x86_64-pc-windows-gnu
echo "tools/test.sh: Windows build ok: target/x86_64-pc-windows-gnu/release/codex-governance.exe"

exec cargo test "$@"
