#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then runs lint and every test.
# Usage: ./scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 npm_config_audit=false npm_config_fund=false \
       npm_config_update_notifier=false

step() { echo "==> $*"; }

# Debian's chromium for the browser end-to-end tests (never `playwright install`: it downloads).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  step "installing chromium (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver >/dev/null
fi

# Debian's luacheck for the Neovim plugin (CI runs as root: there it is always installed).
if ! command -v luacheck >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  step "installing luacheck (apt lua-check)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lua-check >/dev/null 2>&1 || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      lua-check >/dev/null
  }
fi

if [ ! -x .venv/bin/python ]; then
  step "creating .venv"
  python3 -m venv .venv
fi
step "installing qwen-lsp and test dependencies"
.venv/bin/pip install -q -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import qwen_lsp, pytest_lsp, hypothesis' # fail early if the install broke

step "ruff"
.venv/bin/ruff check server tests
.venv/bin/ruff format --check server tests

step "mypy (strict)"
.venv/bin/mypy server

step "Neovim plugin: stylua (editors/nvim/stylua.toml)"
(cd editors/nvim/tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
node editors/nvim/tools/stylua-check.mjs

step "Neovim plugin: luacheck (editors/nvim/.luacheckrc)"
if command -v luacheck >/dev/null 2>&1; then
  (cd editors/nvim && luacheck --no-color -q .)
elif [ "${CI:-}" = true ]; then
  echo "luacheck is missing (Debian: apt-get install lua-check); CI must run it" >&2
  exit 1
else
  echo "WARNING: luacheck is not installed (Debian: sudo apt install lua-check): the Lua lint was NOT run" >&2
fi

if [ -f editors/vscode/package.json ] && [ -x editors/vscode/scripts/test.sh ]; then
  step "VS Code extension"
  PATH="$PWD/.venv/bin:$PATH" editors/vscode/scripts/test.sh
fi

step "pytest"
# pytest exits 5 when it collected nothing; `set -e` turns that (like any failure) into red.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/pytest "$@"
