"""qwen-lsp: one language server for signing in to model providers, picking a model and completing."""

__version__ = "0.1.0"
