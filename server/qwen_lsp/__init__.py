"""qwen-lsp: one language server to sign in to model providers, pick a model and complete."""

__version__ = "0.1.0"
