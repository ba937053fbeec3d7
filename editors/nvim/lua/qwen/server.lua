-- Which qwen-lsp to run: the `cmd` option, else `qwen-lsp` on PATH, else the private install
-- that :QwenInstall makes under stdpath('data'). One place for this order and its messages.
local M = {}

local is_win = vim.fn.has('win32') == 1

--- The private virtual environment :QwenInstall creates.
function M.venv_dir()
  return vim.fs.joinpath(vim.fn.stdpath('data'), 'qwen-lsp', 'venv')
end

function M.venv_bin(name)
  if is_win then
    return vim.fs.joinpath(M.venv_dir(), 'Scripts', name .. '.exe')
  end
  return vim.fs.joinpath(M.venv_dir(), 'bin', name)
end

--- The private install's server executable, or nil when it is not there.
function M.venv_server()
  local exe = M.venv_bin('qwen-lsp')
  if vim.fn.executable(exe) == 1 then
    return exe
  end
  return nil
end

M.SOURCE_LABELS = {
  setup = 'the cmd option of setup()',
  path = 'qwen-lsp on PATH',
  venv = 'the private install made by :QwenInstall',
}

---@class qwen.ServerChoice
---@field cmd string[]|fun(dispatchers: table): table  what vim.lsp.start runs
---@field source 'setup'|'path'|'venv'
---@field exe string|nil  the executable's full path (nil for a cmd function)

--- The server to run, or nil and a message naming the cause and the next step.
---@return qwen.ServerChoice|nil, string|nil
function M.resolve()
  local cmd = require('qwen.config').options.cmd
  if type(cmd) == 'function' then
    return { cmd = cmd, source = 'setup' }
  end
  if type(cmd) == 'table' and cmd[1] then
    local exe = vim.fn.exepath(cmd[1])
    if exe == '' then
      return nil,
        ('setup({ cmd = ... }) names %q, which is not an executable. Fix the path, or remove `cmd` to use qwen-lsp from PATH or :QwenInstall.'):format(
          cmd[1]
        )
    end
    return { cmd = cmd, source = 'setup', exe = exe }
  end
  local on_path = vim.fn.exepath('qwen-lsp')
  if on_path ~= '' then
    return { cmd = { on_path }, source = 'path', exe = on_path }
  end
  local private = M.venv_server()
  if private then
    return { cmd = { private }, source = 'venv', exe = private }
  end
  return nil, M.missing_message()
end

function M.missing_message()
  return ('The qwen-lsp server is not installed: run :QwenInstall (it builds a private copy in %s), or put qwen-lsp on PATH, or set setup({ cmd = { ... } }).'):format(
    M.venv_dir()
  )
end

return M
