-- :QwenInstall — build the private qwen-lsp install: a virtual environment under
-- stdpath('data') with the qwen-lsp package of the repository this plugin lives in.
local server = require('qwen.server')
local util = require('qwen.util')

local M = {}

--- The install in progress or the last one: {running, ok, message, step, log}.
---@type {running: boolean, ok: boolean|nil, message: string|nil, step: string|nil, log: string}|nil
M.state = nil

local uv = util.uv
local is_win = vim.fn.has('win32') == 1

function M.log_path()
  return vim.fs.joinpath(vim.fn.stdpath('data'), 'qwen-lsp', 'install.log')
end

--- The qwen-lsp repository checkout around this plugin (the directory with its pyproject.toml).
---@return string|nil root, string|nil err
function M.repo_root()
  local here = debug.getinfo(1, 'S').source:gsub('^@', '')
  -- Through symlinks (a pack/*/start link to the checkout) to the checkout itself.
  here = vim.fs.normalize(uv.fs_realpath(here) or vim.fn.fnamemodify(here, ':p'))
  for dir in vim.fs.parents(here) do
    local pyproject = vim.fs.joinpath(dir, 'pyproject.toml')
    if vim.fn.filereadable(pyproject) == 1 then
      local text = table.concat(vim.fn.readfile(pyproject), '\n')
      if text:match('name%s*=%s*"qwen%-lsp"') then
        return dir
      end
    end
  end
  return nil,
    ('this plugin (%s) is not inside a qwen-lsp repository checkout (no pyproject.toml of qwen-lsp above it). Install the plugin from the repository (its editors/nvim directory), or install qwen-lsp yourself and set setup({ cmd = { ... } }).'):format(
      here
    )
end

local function python_version(exe)
  local ok, obj = pcall(vim.system, { exe, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])' }, { text = true })
  if not ok then
    return nil
  end
  local r = obj:wait(10000)
  if r.code ~= 0 then
    return nil
  end
  local major, minor = (r.stdout or ''):match('^(%d+)%.(%d+)')
  if not major then
    return nil
  end
  return tonumber(major), tonumber(minor)
end

--- A Python 3.11+ to build the environment with: the `python` option, else the newest on PATH.
---@return string|nil exe, string|nil err
function M.find_python()
  local opt = require('qwen.config').options.python
  local candidates = opt and { opt } or { 'python3.13', 'python3.12', 'python3.11', 'python3', 'python' }
  local seen, tried = {}, {}
  for _, name in ipairs(candidates) do
    local exe = vim.fn.exepath(name)
    if exe ~= '' and not seen[exe] then
      seen[exe] = true
      local major, minor = python_version(exe)
      if major and (major > 3 or (major == 3 and minor >= 11)) then
        return exe
      end
      tried[#tried + 1] = ('%s (%s)'):format(exe, major and (major .. '.' .. minor) or 'does not run')
    end
  end
  if opt then
    return nil,
      ('the python option (%q) is not a Python 3.11 or newer%s. Point it at one.'):format(
        opt,
        tried[1] and (': found ' .. tried[1]) or ''
      )
  end
  return nil,
    ('qwen-lsp needs Python 3.11 or newer and none is on PATH%s. Install one (e.g. apt install python3.11 python3.11-venv, brew install python@3.12), or set setup({ python = "/path/to/python3.12" }), then run :QwenInstall again.'):format(
      tried[1] and (' (found ' .. table.concat(tried, ', ') .. ')') or ''
    )
end

-- The package sources only: building in a copy keeps the checkout clean (and works when the
-- plugin directory is read-only).
local SKIP = {
  ['.git'] = true,
  ['.venv'] = true,
  node_modules = true,
  editors = true,
  tests = true,
  docs = true,
  scripts = true,
  build = true,
  dist = true,
  __pycache__ = true,
}

local function copy_tree(src, dst)
  vim.fn.mkdir(dst, 'p')
  for name, kind in vim.fs.dir(src) do
    if not SKIP[name] and not name:match('%.egg%-info$') and not name:match('^%.') then
      local s, d = vim.fs.joinpath(src, name), vim.fs.joinpath(dst, name)
      if kind == 'directory' then
        copy_tree(s, d)
      elseif kind == 'file' then
        assert(uv.fs_copyfile(s, d))
      end
    end
  end
end

local function venv_python()
  return server.venv_bin(is_win and 'python' or 'python3')
end

local function tail(text, n)
  local lines = vim.split(vim.trim(text or ''), '\n', { plain = true })
  local out = {}
  for i = math.max(1, #lines - n + 1), #lines do
    out[#out + 1] = lines[i]
  end
  return table.concat(out, '\n')
end

local function progress(msg)
  if M.state then
    M.state.step = msg
  end
  util.notify('Qwen: ' .. msg)
end

local function append_log(text)
  local f = io.open(M.log_path(), 'a')
  if f then
    f:write(text)
    f:close()
  end
end

-- Run argv, streaming its output to the log; then done(code, output).
local function run(argv, done)
  append_log('$ ' .. table.concat(argv, ' ') .. '\n')
  local output = {}
  local last_echo = 0
  local function on_out(_, data)
    if not data then
      return
    end
    output[#output + 1] = data
    append_log(data)
    -- The latest pip line as a transient message, at most a few times a second.
    local now = uv.now()
    if now - last_echo > 300 then
      last_echo = now
      local line = vim.trim(data):match('([^\n]*)$')
      vim.schedule(function()
        if M.state and M.state.running and line ~= '' then
          pcall(vim.api.nvim_echo, { { 'Qwen: ' .. line:sub(1, 120), 'MoreMsg' } }, false, {})
        end
      end)
    end
  end
  local ok, err = pcall(vim.system, argv, {
    text = true,
    stdout = on_out,
    stderr = on_out,
    env = { PIP_DISABLE_PIP_VERSION_CHECK = '1', PYTHONUNBUFFERED = '1' },
  }, function(r)
    vim.schedule(function()
      done(r.code, table.concat(output))
    end)
  end)
  if not ok then
    vim.schedule(function()
      done(-1, tostring(err))
    end)
  end
end

local function finish(ok, message, cb)
  M.state.running = false
  M.state.ok = ok
  M.state.message = message
  pcall(vim.api.nvim_echo, { { '' } }, false, {})
  util.notify(message, ok and vim.log.levels.INFO or vim.log.levels.ERROR)
  if ok then
    -- Buffers opened while the server was missing get it now.
    require('qwen.client').attach_loaded()
  end
  if cb then
    cb(ok, message)
  end
end

--- Build (or update) the private install. opts.wait: block until it is done (scripts, lazy.nvim's
--- build step). cb(ok, message) runs at the end. Returns false when an install is already running.
---@param opts {wait: boolean|nil}|nil
---@param cb fun(ok: boolean, message: string)|nil
function M.run(opts, cb)
  opts = opts or {}
  if M.state and M.state.running then
    util.notify('Qwen: the server is already being installed (' .. (M.state.step or '') .. ').', vim.log.levels.WARN)
    return false
  end
  M.state = { running = true, log = M.log_path() }
  vim.fn.mkdir(vim.fs.dirname(M.log_path()), 'p')
  local f = io.open(M.log_path(), 'w')
  if f then
    f:write(('qwen-lsp install, %s\n'):format(os.date('!%Y-%m-%dT%H:%M:%SZ')))
    f:close()
  end
  local function fail(what, detail)
    local msg = ('Qwen: installing the server failed: %s'):format(what)
    if detail and detail ~= '' then
      msg = msg .. '\n' .. tail(detail, 8)
    end
    append_log('\nFAILED: ' .. what .. '\n')
    finish(false, msg .. '\nFull log: ' .. M.log_path(), cb)
  end

  local root, err = M.repo_root()
  if not root then
    fail(err)
    return true
  end
  local python
  python, err = M.find_python()
  if not python then
    fail(err)
    return true
  end
  local venv = server.venv_dir()
  local src = vim.fs.joinpath(vim.fn.stdpath('cache'), 'qwen-lsp', 'src')
  vim.fn.delete(src, 'rf')
  local copied, cerr = pcall(copy_tree, root, src)
  if not copied then
    fail(('could not copy the sources from %s to %s: %s'):format(root, src, tostring(cerr)))
    return true
  end

  local function verify()
    progress('checking the installed server…')
    run({ server.venv_bin('qwen-lsp'), '--version' }, function(code, out)
      if code ~= 0 then
        return fail('the installed qwen-lsp does not start', out)
      end
      vim.fn.delete(src, 'rf')
      -- A server already running from this environment keeps its old code until it restarts.
      local running = false
      for _, c in ipairs(vim.lsp.get_clients({ name = 'qwen' })) do
        local cmd = c.config.cmd
        running = running or (type(cmd) == 'table' and cmd[1] == server.venv_bin('qwen-lsp'))
      end
      finish(
        true,
        ('Qwen: %s installed in %s. %s'):format(
          vim.trim(out),
          venv,
          running and 'Restart Neovim to run the new version.'
            or 'Files you open now get completions; next: :Qwen signin.'
        ),
        cb
      )
    end)
  end

  local function pip_install()
    progress(('installing qwen-lsp from %s and its dependencies (this takes a minute)…'):format(root))
    run({ venv_python(), '-m', 'pip', 'install', '--upgrade', src }, function(code, out)
      if code ~= 0 then
        return fail('pip install did not succeed (exit code ' .. code .. ')', out)
      end
      verify()
    end)
  end

  if vim.fn.executable(venv_python()) == 1 and python_version(venv_python()) then
    pip_install()
  else
    vim.fn.delete(venv, 'rf')
    progress(('creating a Python environment in %s with %s…'):format(venv, python))
    run({ python, '-m', 'venv', venv }, function(code, out)
      if code ~= 0 then
        local hint = out:match('ensurepip') and ' (on Debian/Ubuntu: apt install python3-venv)' or ''
        return fail(('%s -m venv failed%s'):format(python, hint), out)
      end
      pip_install()
    end)
  end

  if opts.wait then
    vim.wait(30 * 60 * 1000, function()
      return not M.state.running
    end, 100)
    if M.state.running then
      fail('it did not finish within 30 minutes')
    end
  end
  return true
end

return M
