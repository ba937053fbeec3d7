-- :checkhealth qwen
local M = {}

local health = vim.health

local function server_version(cmd)
  if type(cmd) ~= 'table' or not cmd[1] then
    return nil
  end
  local ok, obj = pcall(vim.system, vim.list_extend(vim.deepcopy(cmd), { '--version' }), { text = true })
  if not ok then
    return nil
  end
  local r = obj:wait(10000)
  if r and r.code == 0 then
    return vim.trim((r.stdout or '') .. (r.stderr or ''))
  end
end

function M.check()
  local config = require('qwen.config')
  local client_mod = require('qwen.client')
  local status = require('qwen.status')
  local util = require('qwen.util')

  health.start('qwen.nvim')
  local v = vim.version()
  local vs = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. vs)
  else
    health.error('Neovim ' .. vs .. ' is too old: 0.10 or newer is needed')
  end
  if config.did_setup then
    health.ok('setup() called')
  else
    health.warn(
      'setup() not called yet (commands use the defaults)',
      { 'Call require("qwen").setup({}) in your config' }
    )
  end

  health.start('qwen-lsp server')
  local server = require('qwen.server')
  local install = require('qwen.install')
  local choice, why = server.resolve()
  if not choice then
    health.error(why, {
      'Run :QwenInstall (or `nvim --headless "+QwenInstall!" +qa`): it builds a private server in '
        .. server.venv_dir(),
      'Or install qwen-lsp so that it is on PATH, or set setup({ cmd = { "/path/to/qwen-lsp" } })',
    })
    if install.state and install.state.ok == false then
      health.error('the last :QwenInstall failed: ' .. (install.state.message or '?'))
    end
    return
  end
  if choice.exe then
    health.ok(('server: %s (%s)'):format(choice.exe, server.SOURCE_LABELS[choice.source]))
  else
    health.info('server started through a cmd function (setup())')
  end
  if choice.direct then
    health.ok(
      "mode: shared (connected to your per-user daemon's socket: no process per Neovim); setup({ shared = 'shim' }) goes through `qwen-lsp attach`, setup({ shared = false }) runs a standalone server"
    )
  elseif choice.shared then
    health.ok(
      'mode: shared (`qwen-lsp attach`: a session of your per-user daemon); setup({ shared = false }) runs a standalone server'
    )
  elseif server.shared_failure then
    health.warn('mode: standalone, because the shared server could not start: ' .. server.shared_failure, {
      'Fix the cause above and restart Neovim, or '
        .. server.opt_out(choice.source)
        .. ' to always run a standalone server',
    })
  elseif choice.source == 'setup' then
    health.info('mode: standalone (the cmd option is run as written; add "attach" to it to use the shared daemon)')
  else
    health.info('mode: standalone (setup({ shared = false }))')
  end
  if choice.source ~= 'venv' and server.venv_server() then
    health.info('a private install exists too (unused while the above is found): ' .. server.venv_server())
  end
  if client_mod.last_error then
    health.error('last start error: ' .. client_mod.last_error, {
      'Run the server in a terminal to see why: ' .. (choice.exe or 'qwen-lsp') .. ' --version',
      'Rebuild the private server: :QwenInstall',
    })
  end
  local cmd = choice.cmd

  local client = client_mod.get(0)
  if not client then
    client = client_mod.start(0, true)
    if not client and client_mod.pending(0) then -- the daemon is being made sure of
      vim.wait(20000, function()
        return client_mod.get(0) ~= nil or not client_mod.pending(0)
      end, 50)
      client = client_mod.get(0)
    end
  end
  if not client then
    health.error(
      'could not start the server: ' .. (client_mod.last_error or '?'),
      { 'Run it in a terminal: ' .. vim.inspect(cmd) }
    )
    return
  end
  local up = vim.wait(10000, function()
    return client.initialized == true or (client_mod.get(0) == nil)
  end, 50)
  if not up or not client.initialized then
    health.error('the server did not finish initializing within 10 s', { 'See :LspLog' })
    return
  end
  local caps = client_mod.qwen_caps(client)
  local version = caps.version or (client.server_info and client.server_info.version)
  if version then
    health.ok(('version %s (%s)'):format(version, client.server_info and client.server_info.name or 'qwen-lsp'))
  else
    local out = type(cmd) == 'table' and server_version(cmd)
    if out then
      health.ok('version ' .. out)
    else
      health.warn('the server did not report a version')
    end
  end
  if type(caps.methods) == 'table' and #caps.methods > 0 then
    health.ok('protocol methods: ' .. table.concat(caps.methods, ', '))
  else
    health.warn('capabilities.experimental.qwen.methods is missing: is this qwen-lsp?')
  end
  if choice.shared and choice.exe then
    local ok, out = server.daemon_status(choice.exe)
    if ok then
      health.ok('daemon: ' .. out)
    else
      health.warn('daemon: ' .. out, { 'qwen-lsp daemon --status shows it; its log is next to its socket' })
    end
  end
  health.info('workspace root: ' .. tostring(client.config.root_dir))
  health.info('sign-in methods: ' .. table.concat(client_mod.auth_methods(client), ', '))

  health.start('Auth and model')
  vim.wait(3000, function()
    return status.by_client[client.id] ~= nil
  end, 50)
  local st = status.by_client[client.id]
  if not st then
    health.warn('no qwen/status received from the server yet')
  elseif st.state == 'ready' then
    local m = st.model
    health.ok(
      ('auth state: ready (%s), model %s'):format(
        st.authType or '?',
        m and ((m.name and m.name ~= m.id) and (m.name .. ' / ' .. m.id) or m.id) or '?'
      )
    )
  elseif st.state == 'signingIn' then
    health.info('auth state: signing in…')
  elseif st.state == 'needsAuth' then
    health.warn('auth state: needsAuth — not signed in' .. (st.message and (': ' .. st.message) or ''), {
      'Run :QwenSignIn (Qwen OAuth in the browser, or an API key)',
    })
  else
    health.error('auth state: ' .. tostring(st.state) .. (st.message and (': ' .. st.message) or ''))
  end
  if st and st.message and st.state == 'ready' then
    health.info(st.message)
  end
  if st and st.lastError then
    health.warn(status.error_message(st.lastError))
  end

  health.start('Configuration')
  local res, err = util.request_sync(client, 'qwen/config', vim.empty_dict(), 5000, 0)
  if not res then
    health.warn('qwen/config did not answer: ' .. tostring(err))
    return
  end
  if res.err then
    health.error('qwen/config failed: ' .. util.error_text(res.err))
    return
  end
  local cfg = res.result or {}
  local diags = cfg.diagnostics
  if type(diags) == 'table' and #diags > 0 then
    for _, d in ipairs(diags) do
      if type(d) == 'table' then
        local where = d.file or d.path or d.source
        if where and not util.is_nil(d.line) then
          where = tostring(where) .. ':' .. tostring(d.line)
        end
        local text = d.message or vim.inspect(d)
        local level = d.severity or d.level
        local line = where and (tostring(where) .. ': ' .. text) or text
        if level == 'error' then
          health.error(line)
        else
          health.warn(line)
        end
      else
        health.warn(tostring(d))
      end
    end
  else
    health.ok('no configuration diagnostics')
  end
  health.info('Full configuration with sources: :QwenConfig')
end

return M
