#!/usr/bin/env bash
# Install qwen-lsp for the current user, where editors find it: a private environment under
# ~/.local/share/qwen-lsp/venv and the command ~/.local/bin/qwen-lsp (a symlink). Needs no root
# and works with Debian's "externally managed" system Python (PEP 668), since pip only ever
# runs inside that environment. Run it again after updating the checkout.
#
# Usage: scripts/install.sh [WHEEL_OR_DIRECTORY]   (default: this checkout)
#        PYTHON=/usr/bin/python3.12 scripts/install.sh   (another interpreter, 3.11 or newer)
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1

repo="$(cd "$(dirname "$0")/.." && pwd)"
src="${1:-$repo}"
py="${PYTHON:-python3}"
data="${XDG_DATA_HOME:-$HOME/.local/share}/qwen-lsp"
venv="$data/venv"
bindir="$HOME/.local/bin"
link="$bindir/qwen-lsp"

fail() { echo "qwen-lsp install: $*" >&2; exit 1; }

command -v "$py" >/dev/null 2>&1 ||
  fail "no '$py' found. Install Python 3.11 or newer (Debian/Ubuntu: sudo apt install python3 python3-venv), or set PYTHON=/path/to/python3."
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  fail "qwen-lsp needs Python 3.11 or newer; $py is $("$py" --version 2>&1). Set PYTHON=/path/to/python3.11 (or newer) and run this again."
"$py" -c 'import venv, ensurepip' 2>/dev/null ||
  fail "$py cannot create virtual environments. On Debian/Ubuntu: sudo apt install python3-venv (or python3.X-venv for your version), then run this again."

echo "==> environment: $venv"
mkdir -p "$data"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip uninstall -q -y qwen-lsp >/dev/null 2>&1 || true
echo "==> installing qwen-lsp from $src"
"$venv/bin/python" -m pip install -q "$src" 2>&1 | grep -v '^WARNING: Location' || true
[ -x "$venv/bin/qwen-lsp" ] || fail "pip did not install qwen-lsp into $venv (see the messages above)."

mkdir -p "$bindir"
if [ -e "$link" ] && [ ! -L "$link" ]; then
  fail "$link exists and is not a link made by this script; remove it (or move it away) and run this again."
fi
ln -sfn "$venv/bin/qwen-lsp" "$link"
echo "==> command: $link -> $venv/bin/qwen-lsp"

case ":$PATH:" in
  *":$bindir:"*) on_path=yes ;;
  *) on_path=no ;;
esac

cat <<EOF

qwen-lsp $("$link" --version | cut -d' ' -f2) is installed.
Next, in your editor:
  VS Code  the extension carries its own server; to use this one instead, set
           "qwen.server.command": "$link" in your User settings.
  Neovim   the plugin runs 'qwen-lsp' from PATH (:checkhealth qwen shows which one); without it,
           :QwenInstall builds the plugin's own environment.
  Others   start the command '$link' on stdio (docs/editors.md, "Any other LSP client").
EOF
if [ "$on_path" = no ]; then
  cat <<EOF

$bindir is not on your PATH yet, so editors started from this shell will not find 'qwen-lsp'.
Debian's and Ubuntu's ~/.profile add it at your next login once the folder exists; or add
  export PATH="\$HOME/.local/bin:\$PATH"
to ~/.profile (or ~/.bashrc) now, or give editors the full path above.
EOF
fi

echo
echo "==> qwen-lsp doctor (the effective configuration and where each value came from)"
exec "$link" doctor
