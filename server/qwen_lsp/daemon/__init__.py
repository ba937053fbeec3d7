"""One qwen-lsp process per user: a daemon on a Unix socket, one LSP session per connection.

paths.py   where the socket, lock and log live, and the checks on that directory (stdlib only)
wire.py    the few bytes shim and daemon exchange around the LSP stream (stdlib only)
attach.py  `qwen-lsp attach`: the stdio shim an editor spawns (stdlib only: it must start fast)
daemon.py  `qwen-lsp daemon`: the listener, its lock, idle exit, the status bus
session.py one LSP session bound to one connection
"""
