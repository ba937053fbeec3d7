-- Which qwen-lsp to run: the `cmd` option (as written), else `qwen-lsp` on PATH, else the
-- private install that :QwenInstall makes under stdpath('data') — these two as a session of the
-- per-user daemon unless `shared = false`: connected to its socket directly (`shared = true`,
-- no process per Neovim) or through the `qwen-lsp attach` shim (`shared = 'shim'`). One place
-- for this order and its messages.
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
---@field shared boolean  cmd is `qwen-lsp attach`: a session of the per-user daemon
---@field direct boolean|nil  connect to the daemon's socket instead of running cmd (shared = true)
---@field standalone string[]|nil  the same server without `attach` (when shared)

--- Why `qwen-lsp attach` could not reach the daemon in this Neovim, once it failed: the server
--- then runs standalone until Neovim restarts.
M.shared_failure = nil ---@type string|nil

local function without_attach(cmd)
  local out, dropped = {}, false
  for _, a in ipairs(cmd) do
    if a == 'attach' and not dropped then
      dropped = true
    else
      out[#out + 1] = a
    end
  end
  return out
end

--- The choice for an executable found by the plugin: `attach` unless shared is off (or failed).
local function found(exe, source)
  local mode = require('qwen.config').options.shared
  if mode and not is_win and not M.shared_failure then
    return {
      cmd = { exe, 'attach' },
      source = source,
      exe = exe,
      shared = true,
      -- 0.11's vim.lsp.rpc.connect (what the tests run) holds messages until the pipe is
      -- connected; 0.10 keeps the shim.
      direct = (mode ~= 'shim' and require('qwen.util').has_011) or nil,
      standalone = { exe },
    }
  end
  return { cmd = { exe }, source = source, exe = exe, shared = false }
end

--- The server to run, or nil and a message naming the cause and the next step.
---@return qwen.ServerChoice|nil, string|nil
function M.resolve()
  local cmd = require('qwen.config').options.cmd
  if type(cmd) == 'function' then
    return { cmd = cmd, source = 'setup', shared = false }
  end
  if type(cmd) == 'table' and cmd[1] then
    local exe = vim.fn.exepath(cmd[1])
    if exe == '' then
      return nil,
        ('setup({ cmd = ... }) names %q, which is not an executable. Fix the path, or remove `cmd` to use qwen-lsp from PATH or :QwenInstall.'):format(
          cmd[1]
        )
    end
    -- as written: `attach` in it opts a command of the user's own into the daemon
    local shared = vim.tbl_contains(cmd, 'attach')
    if shared and M.shared_failure then
      return { cmd = without_attach(cmd), source = 'setup', exe = exe, shared = false }
    end
    return {
      cmd = cmd,
      source = 'setup',
      exe = exe,
      shared = shared,
      standalone = shared and without_attach(cmd) or nil,
    }
  end
  local on_path = vim.fn.exepath('qwen-lsp')
  if on_path ~= '' then
    return found(on_path, 'path')
  end
  local private = M.venv_server()
  if private then
    return found(private, 'venv')
  end
  return nil, M.missing_message()
end

--- How to run a standalone server for good, for a shared choice from `source`.
function M.opt_out(source)
  if source == 'setup' then
    return "remove 'attach' from setup({ cmd = ... })"
  end
  return 'set setup({ shared = false })'
end

--- What `qwen-lsp attach` said on stderr before it exited 2 (it could not reach or start the
--- daemon). Neovim keeps a server's stderr only in the LSP log: the last such line there.
function M.attach_failure_message()
  local f = io.open(vim.lsp.get_log_path(), 'rb')
  if not f then
    return nil
  end
  local size = f:seek('end')
  f:seek('set', math.max(0, size - 65536))
  local tail = f:read('*a') or ''
  f:close()
  local last
  for m in tail:gmatch('qwen%-lsp attach: (.-)\\n') do
    last = m
  end
  return last and (last:gsub('\\"', '"'))
end

--- How long `qwen-lsp attach --ensure` may take: ~30-80 ms when the daemon runs, its start-up
--- (0.5-3 s on a busy machine) when it does not. It runs in the background; this only bounds
--- how long a hung one keeps a window without its server.
M.ENSURE_TIMEOUT_MS = 15000

--- Make sure the per-user daemon runs and learn its socket, without blocking Neovim:
--- on_done(socket) or on_done(nil, why), called on the main loop. `env` is the cmd_env option
--- (e.g. another XDG_RUNTIME_DIR), on top of this Neovim's environment.
function M.ensure_daemon(exe, env, on_done)
  local function finish(r)
    local said = vim.trim(r.stderr or ''):gsub('^qwen%-lsp attach: ', '')
    if r.code ~= 0 then
      if r.code == 124 then
        return nil, ('`%s attach --ensure` did not answer within %d s'):format(exe, M.ENSURE_TIMEOUT_MS / 1000)
      end
      return nil, said ~= '' and said or ('`%s attach --ensure` exited with code %d'):format(exe, r.code)
    end
    local ok, info = pcall(vim.json.decode, r.stdout or '')
    if not ok or type(info) ~= 'table' or type(info.socket) ~= 'string' then
      return nil, ('`%s attach --ensure` printed no socket (is this qwen-lsp too old?)'):format(exe)
    end
    return info.socket
  end
  local ok, err = pcall(
    vim.system,
    { exe, 'attach', '--ensure' },
    { text = true, env = env, timeout = M.ENSURE_TIMEOUT_MS },
    function(r)
      vim.schedule(function()
        on_done(finish(r))
      end)
    end
  )
  if not ok then
    vim.schedule(function()
      on_done(nil, tostring(err))
    end)
  end
end

--- `qwen-lsp daemon --status` for :checkhealth: (ok, what it printed).
function M.daemon_status(exe)
  local ok, obj = pcall(vim.system, { exe, 'daemon', '--status' }, { text = true })
  if not ok then
    return false, tostring(obj)
  end
  local r = obj:wait(15000)
  return r.code == 0, vim.trim((r.stdout or '') .. (r.stderr or ''))
end

function M.missing_message()
  return ('The qwen-lsp server is not installed: run :QwenInstall (it builds a private copy in %s), or put qwen-lsp on PATH, or set setup({ cmd = { ... } }).'):format(
    M.venv_dir()
  )
end

return M
