"""How the tests talk to a real `qwen-lsp` over stdio: one place for each part.

- env.py          the private HOME/XDG/system-settings variables, the credential scrub, the
                  environment (`server_env`) and command line (`server_argv`, via
                  tests/serve_mode.py: standalone or through `attach`) of a test server
- framing.py      LSP framing: `frame`/`frame_body` to write, `FrameParser`/`MessageReader`/
                  `read_message` to read (headers parsed by the server's own parse_headers)
- jsonrpc.py      message shapes, request/response classification, `initialize` params, statuses
- sync_client.py  `SyncClient`: blocking, threads, every byte recorded; on a subprocess or the
                  daemon's Unix socket (`connect_unix`)
- async_client.py `AsyncClient`: asyncio, no pygls, arrival times stamped; on a subprocess, the
                  daemon's socket or TCP

The facades the tests use: tests/reliability/rawlsp.py `RawLsp` (SyncClient plus a private
daemon in attach mode), tests/benchmarks/rpc.py `Client` (AsyncClient), tests/server/harness.py
`Harness` (AsyncClient set up as an editor: real capabilities, the window/* requests answered).
"""
