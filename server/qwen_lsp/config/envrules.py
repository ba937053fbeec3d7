"""Which environment variables a configuration file may set.

Project files (a workspace `.env`, the workspace settings.json) come with the code a user
opens, so they must not be able to redirect where we keep credentials, whom we trust for TLS,
what gets loaded into processes, or where sign-in tokens are sent.
"""

from __future__ import annotations

import re

# Never from any file: they change what gets loaded into a process.
LOADER_VARS = frozenset(
    {
        "NODE_OPTIONS",
        "NODE_PATH",
        "LD_PRELOAD",
        "LD_AUDIT",
        "LD_LIBRARY_PATH",
        "DYLD_INSERT_LIBRARIES",
        "DYLD_LIBRARY_PATH",
        "BASH_ENV",
        "ZDOTDIR",
        "OPENSSL_CONF",
        "NODE_REPL_EXTERNAL_MODULE",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "NPM_CONFIG_NODE_OPTIONS",
        "NPM_CONFIG_USERCONFIG",
        "NPM_CONFIG_GLOBALCONFIG",
        "NPM_CONFIG_SCRIPT_SHELL",
        "NPM_CONFIG_PREFIX",
        "NPM_CONFIG_NODE_GYP",
        "NPM_CONFIG_INIT_MODULE",
    }
)
_LOADER_PATTERNS = (re.compile(r"^BASH_FUNC_"), re.compile(r"^DYLD_"))

# Never from project-level files: where we keep state, whom we trust, where tokens go.
TRUST_VARS = frozenset(
    {
        "QWEN_HOME",
        "QWEN_RUNTIME_DIR",
        "QWEN_OAUTH_BASE_URL",
        "QWEN_CODE_SYSTEM_SETTINGS_PATH",
        "QWEN_CODE_SYSTEM_DEFAULTS_PATH",
        "QWEN_CODE_TRUSTED_FOLDERS_PATH",
        "QWEN_CODE_MCP_APPROVALS_PATH",
        "QWEN_UPDATE_BASE_URL",
        "QWEN_TLS_INSECURE",
        "NODE_TLS_REJECT_UNAUTHORIZED",
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "PIP_CERT",
        "PIP_CONFIG_FILE",
        "CURL_HOME",
        "WGETRC",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_EXEC_PATH",
        "GIT_ASKPASS",
        "GIT_EDITOR",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "TMPDIR",
        "TMP",
        "TEMP",
        "SSH_ASKPASS",
        "LESSOPEN",
        "LESSCLOSE",
        "PYTHON",
        "NODE_GYP_FORCE_PYTHON",
        "VISUAL",
        "EDITOR",
        "BROWSER",
        "QWEN_CLI_ENTRY",
        "DEV",
        "PATH",
        "HOME",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    }
)
_TRUST_PATTERNS = (
    re.compile(r"^QWEN_SANDBOX"),
    re.compile(r"^SANDBOX"),
    re.compile(r"^GIT_SSL_"),
    re.compile(r"^GIT_CONFIG_"),
    re.compile(r"^NPM_CONFIG_(CA|CAFILE|STRICT_SSL)"),
)

# Not from project `.env` files: they change how much we log, which could expose prompts.
PROJECT_EXCLUDED = frozenset({"DEBUG", "DEBUG_MODE"})

# Never interpolated into settings values: they are session identifiers or internal secrets.
NEVER_INTERPOLATED = frozenset(
    {
        "SESSION_ID",
        "QWEN_CODE_SESSION_ID",
        "QWEN_SERVER_TOKEN",
        "QWEN_DAEMON_TOKEN",
        "QWEN_CODE_EXTERNAL_TOOL_GUARD_TOKEN",
    }
)


def _norm(name: str) -> str:
    return name.upper().replace("-", "_")


def is_loader_var(name: str) -> bool:
    n = _norm(name)
    return n in LOADER_VARS or any(p.match(n) for p in _LOADER_PATTERNS)


def is_trust_var(name: str) -> bool:
    n = _norm(name)
    return n in TRUST_VARS or any(p.match(n) for p in _TRUST_PATTERNS)


def secret_value_problem(value: str) -> str | None:
    """Why `value` cannot be a key we store or send (None when it can). A key is one token:
    whitespace, line or paragraph separators and control characters are refused outright,
    because any of them could later become a new line in a `.env` file (a line of the
    attacker's choosing) or split an HTTP header."""
    import unicodedata

    if not value:
        return "it is empty"
    for ch in value:
        if ch.isspace() or unicodedata.category(ch)[0] in ("C", "Z"):
            return f"it contains whitespace or a control character (U+{ord(ch):04X})"
    return None
