-- luacheck (Debian: apt install lua-check) for the Neovim plugin; ./scripts/test.sh runs
-- `luacheck .` from editors/nvim.
std = 'luajit'
-- Neovim's API; the plugin also sets fields on it (vim.g, vim.b, vim.bo, ...).
globals = { 'vim' }
-- stylua.toml owns the layout (120 columns, not a hard bound for strings and comments).
max_line_length = false
exclude_files = { 'tools/node_modules/**' }
