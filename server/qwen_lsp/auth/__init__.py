"""Sign-in: Qwen OAuth device flow (`qwen_oauth`), the CLI-shared token cache (`token_store`)
and whether a browser can be opened here (`browser`)."""
