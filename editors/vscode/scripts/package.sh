#!/usr/bin/env bash
# Build the platform-specific .vsix that carries the qwen-lsp server.
#
#   scripts/package.sh [TARGET] [OUT]
#
# TARGET is a `vsce --target` (default: this machine's, e.g. linux-x64). The .vsix contains the
# extension bundle plus bundled/: the qwen-lsp wheel built from this repository, the wheels of its
# dependencies for CPython 3.11, 3.12 and 3.13 on TARGET (pydantic-core, cffi, ... are compiled per
# Python version and platform), pip's wheel and manifest.json. On first start the extension
# installs them offline into a private environment (see src/bundledServer.ts).
#
# Supported targets: linux-x64, linux-arm64, alpine-x64, alpine-arm64, darwin-x64, darwin-arm64,
# win32-x64, win32-arm64. Wheels come from PyPI (`pip download --platform`), so any target can
# be built on any machine. Needs: npm deps installed (npm ci), a Python 3.11+ with pip ($PYTHON,
# default python3), network access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PYTHONS=(3.11 3.12 3.13)

host_target() {
  local os arch
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; MINGW*|MSYS*|CYGWIN*) os=win32 ;; *) os=unknown ;; esac
  case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) arch=unknown ;; esac
  if [ "$os" = linux ] && ldd --version 2>&1 | grep -qi musl; then os=alpine; fi
  echo "$os-$arch"
}
TARGET=${1:-$(host_target)}
OUT=${2:-qwen-lsp-vscode-$TARGET.vsix}

# pip platform tags per target, most specific first (pip also accepts older manylinux/macOS tags)
case "$TARGET" in
  linux-x64) PLATS=(manylinux_2_17_x86_64 manylinux2014_x86_64) ;;
  linux-arm64) PLATS=(manylinux_2_17_aarch64 manylinux2014_aarch64) ;;
  alpine-x64) PLATS=(musllinux_1_2_x86_64 musllinux_1_1_x86_64) ;;
  alpine-arm64) PLATS=(musllinux_1_2_aarch64 musllinux_1_1_aarch64) ;;
  darwin-x64) PLATS=(macosx_10_12_x86_64 macosx_10_9_x86_64 macosx_10_9_universal2) ;;
  darwin-arm64) PLATS=(macosx_11_0_arm64 macosx_10_9_universal2) ;;
  win32-x64) PLATS=(win_amd64) ;;
  win32-arm64) PLATS=(win_arm64) ;;
  *) echo "unsupported target '$TARGET' (one of linux-x64 linux-arm64 alpine-x64 alpine-arm64 darwin-x64 darwin-arm64 win32-x64 win32-arm64)" >&2; exit 2 ;;
esac

REPO_ROOT=$(cd ../.. && pwd)
T0=$(date +%s)
say() { echo "==> [+$(( $(date +%s) - T0 ))s] $*"; }
B=bundled
rm -rf "$B" && mkdir -p "$B/wheels"
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip() { "$PYTHON" -m pip "$@" 2>&1 | grep -v '^WARNING: Location' || return "${PIPESTATUS[0]}"; }

say "qwen-lsp wheel from $REPO_ROOT"
pip wheel -q --no-deps -w "$B/wheels" "$REPO_ROOT"
SERVER_WHEEL=$(ls "$B"/wheels/qwen_lsp-*.whl)
SERVER_VERSION=$(basename "$SERVER_WHEEL" | cut -d- -f2)
plat_args=()
for p in "${PLATS[@]}"; do plat_args+=(--platform "$p"); done
# one resolution per Python version, run side by side (each is mostly waiting on PyPI)
pids=()
for v in "${PYTHONS[@]}"; do
  say "dependency wheels for CPython $v on $TARGET"
  pip download -q --only-binary=:all: "${plat_args[@]}" --python-version "$v" --implementation cp \
    --abi "cp${v/./}" --abi abi3 --abi none -d "$B/wheels" "$SERVER_WHEEL" > "$B/download-$v.log" 2>&1 &
  pids+=($!)
done
say "pip wheel (installs the others into an environment without pip)"
pip download -q --only-binary=:all: --no-deps -d "$B" pip
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { cat "$B/download-${PYTHONS[$i]}.log" >&2; echo "pip download for CPython ${PYTHONS[$i]} failed" >&2; exit 1; }
done
rm -f "$B"/download-*.log
PIP_WHEEL=$(cd "$B" && ls pip-*.whl)

ID=$(cd "$B" && find . -name '*.whl' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
cat > "$B/manifest.json" <<JSON
{
  "serverVersion": "$SERVER_VERSION",
  "target": "$TARGET",
  "pythons": [$(printf '"%s",' "${PYTHONS[@]}" | sed 's/,$//')],
  "pipWheel": "$PIP_WHEEL",
  "id": "$ID"
}
JSON
say "bundled $(ls "$B/wheels" | wc -l) wheels ($(du -sh "$B" | cut -f1)), manifest id $ID"

npm run -s typecheck
say "typechecked"
npm run -s build
say "built dist/extension.js"
npx vsce package --no-dependencies --target "$TARGET" --out "$OUT"
say "$OUT"
