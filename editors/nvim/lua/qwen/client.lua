-- Starting, finding and talking to the qwen-lsp client: one client per workspace root,
-- reused by every buffer under it.
local config = require('qwen.config')
local status = require('qwen.status')
local server = require('qwen.server')
local util = require('qwen.util')

local M = {}

M.NAME = 'qwen'
--- Why the last start failed (nil after a successful one), for :checkhealth and :Qwen status.
M.last_error = nil ---@type string|nil
--- Which server the last start ran.
M.last_choice = nil ---@type qwen.ServerChoice|nil
--- The last start failed because no server is installed (vs. one that did not start).
M.server_missing = false
local notified_error = nil ---@type string|nil  the start error already shown (shown once per cause)
local roots = {} ---@type table<integer, string>  client id -> workspace root
local initialized = {} ---@type table<integer, boolean>  client ids that finished initialize
--- Roots whose server exited before it finished starting: only a new file or a command retries
--- there, not every BufEnter/FileType (no restart storm).
local crashed = {} ---@type table<string, boolean>
local waiting = {} ---@type table<integer, fun(client: table)[]>  client id -> callbacks until initialized
local shared_clients = {} ---@type table<integer, string>  client ids started as `qwen-lsp attach` -> the choice's source
local direct_clients = {} ---@type table<integer, boolean>  client ids connected to the daemon's socket
--- Roots whose daemon is being made sure of (`attach --ensure` runs in the background): the
--- buffer that asked and the callbacks waiting for the client.
local pending = {} ---@type table<string, {buf: integer, cbs: fun(client: table)[]}>
local ready = {} ---@type table<string, string>  root -> socket, for the start that follows ensure
local home = util.uv.os_homedir()

--- Workspace root for a buffer: nearest root marker, else the current directory.
function M.root_for(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr or 0)
  local cwd = util.uv.cwd()
  local start = (name ~= '' and not name:match('^%a[%w+.-]*://')) and name or cwd
  local root
  if vim.fs.root then
    root = vim.fs.root(start, config.options.root_markers)
  else
    local found = vim.fs.find(config.options.root_markers, { path = vim.fs.dirname(start), upward = true })[1]
    root = found and vim.fs.dirname(found) or nil
  end
  -- ~/.qwen is the user home of the CLI, not a project marker.
  if not root or root == home then
    root = cwd
  end
  return vim.fs.normalize(root)
end

local function init_options(root, session)
  local o = config.options
  local trusted = o.workspace_trusted
  if type(trusted) == 'function' then
    local ok, v = pcall(trusted, root)
    trusted = ok and v or nil
  end
  local opts = {
    model = o.model,
    authType = o.auth_type,
    openaiApiKey = o.openai_api_key,
    openaiBaseUrl = o.openai_base_url,
    workspaceTrusted = trusted,
    -- Connected to the daemon's socket (no shim): this Neovim's environment for its session.
    -- Taken out by the daemon before anything logs or shows the options.
    qwenSession = session,
  }
  return next(opts) and opts or vim.empty_dict()
end

local function on_init(client)
  M.last_error = nil
  M.server_missing = false
  notified_error = nil
  initialized[client.id] = true
  crashed[client.config.root_dir or ''] = nil
  local cbs = waiting[client.id] or {}
  waiting[client.id] = nil
  for _, cb in ipairs(cbs) do
    local ok, e = pcall(cb, client)
    if not ok then
      util.err(tostring(e))
    end
  end
end

--- `qwen-lsp attach` exited 2 before `initialize` was answered: it could not reach (or start)
--- the daemon. Say why and how to opt out, and run the same server standalone from now on.
local function announce_shared_failure(why, source)
  server.shared_failure = why
  util.notify(
    ('Qwen: the shared qwen-lsp server could not start: %s This Neovim runs a standalone server instead; to always run one, %s.'):format(
      why,
      server.opt_out(source)
    ),
    vim.log.levels.WARN
  )
end

local function shared_failed(root, cbs, source)
  announce_shared_failure(server.attach_failure_message() or 'qwen-lsp attach exited with code 2 (see :LspLog)', source)
  local first
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if M.attachable(buf) and M.root_for(buf) == root then
      first = first or buf
      M.start(buf)
    end
  end
  local client = M.start(first or vim.api.nvim_get_current_buf())
  if client and cbs then
    waiting[client.id] = vim.list_extend(waiting[client.id] or {}, cbs)
  end
end

--- The daemon a direct client was connected to went away (killed, crashed, stopped): the
--- connection closed under a working client. Connect this root's buffers again (ensure starts a
--- new daemon). Not for a client that never initialized: that would retry a broken daemon forever.
local function reconnect(root)
  vim.schedule(function()
    vim.schedule(function() -- after vim.lsp has dropped the dead client (see on_exit)
      if vim.v.exiting ~= vim.NIL then
        return
      end
      for _, buf in ipairs(vim.api.nvim_list_bufs()) do
        if M.attachable(buf) and M.root_for(buf) == root then
          M.start(buf)
        end
      end
    end)
  end)
end

local function on_exit(code, signal, client_id)
  -- Marked at once, not scheduled: the next FileType/BufEnter may come before the callback.
  local root, early = roots[client_id], not initialized[client_id]
  local shared, direct = shared_clients[client_id], direct_clients[client_id]
  roots[client_id], initialized[client_id], shared_clients[client_id] = nil, nil, nil
  direct_clients[client_id] = nil
  if direct and root and not early then
    local c = vim.lsp.get_client_by_id(client_id)
    if not (c and c._is_stopping) then -- not :LspStop, a restart or quitting Neovim
      status.forget(client_id)
      reconnect(root)
      return
    end
  end
  if shared and early and code == 2 and root then
    local cbs = waiting[client_id]
    waiting[client_id] = nil
    -- Twice: vim.lsp drops the dead client in a callback scheduled after this one, and until
    -- then M.start would reuse it for the root.
    vim.schedule(function()
      vim.schedule(function()
        status.forget(client_id)
        shared_failed(root, cbs, shared)
      end)
    end)
    return
  end
  if root and early then
    crashed[root] = true
  end
  vim.schedule(function()
    local cbs = waiting[client_id]
    waiting[client_id] = nil
    status.forget(client_id)
    if cbs or (code ~= 0 and signal == 0) then
      local exe = M.last_choice and M.last_choice.exe or 'qwen-lsp'
      M.start_failed(
        ('Qwen: %s exited with code %s%s%s. Its error output is in :LspLog; run it in a terminal (%s --version) to see why, or reinstall with :QwenInstall.'):format(
          exe,
          code,
          signal ~= 0 and (' (signal ' .. signal .. ')') or '',
          early and ' before it finished starting' or '',
          exe
        ),
        cbs ~= nil
      )
    end
  end)
end

function M.lsp_config(root, cmd, session)
  local o = config.options
  return {
    name = M.NAME,
    cmd = cmd,
    cmd_env = o.cmd_env,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = init_options(root, session),
    handlers = {
      ['qwen/status'] = function(_, params, ctx)
        status.update(ctx.client_id, params)
      end,
    },
    on_init = on_init,
    on_exit = on_exit,
  }
end

--- Can this buffer get the server attached? (Not before it is loaded: during init.lua the
--- buffers of `nvim file` exist but are not loaded yet, and LSP cannot attach to them.)
function M.attachable(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or not vim.api.nvim_buf_is_loaded(bufnr) or vim.bo[bufnr].buftype ~= '' then
    return false
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or name:match('^%a[%w+.-]*://') then
    return false
  end
  local ft = vim.bo[bufnr].filetype
  local o = config.options
  if o.filetypes and not vim.tbl_contains(o.filetypes, ft) then
    return false
  end
  if o.exclude_filetypes and vim.tbl_contains(o.exclude_filetypes, ft) then
    return false
  end
  return true
end

--- The client attached to bufnr, else one for the same root, else any qwen client.
function M.get(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local attached = vim.lsp.get_clients({ name = M.NAME, bufnr = bufnr })[1]
  if attached then
    return attached
  end
  local all = vim.lsp.get_clients({ name = M.NAME })
  local root = M.root_for(bufnr)
  for _, c in ipairs(all) do
    if c.config.root_dir == root then
      return c
    end
  end
  return all[1]
end

--- Record (for :checkhealth, :Qwen status, the statusline) and show why the server is not
--- running. missing: no server is installed at all.
function M.start_failed(msg, explicit, missing)
  M.last_error = msg
  M.server_missing = missing or false
  -- Automatic attempts (every file opened) repeat the message only when the cause changes.
  if explicit or msg ~= notified_error then
    notified_error = msg
    -- Scheduled: inside an autocommand an error message gets a confusing "Error detected
    -- while processing BufReadPost Autocommands" line in front of it.
    vim.schedule(function()
      util.err(msg)
    end)
  end
  pcall(vim.cmd.redrawstatus)
end

--- Start (or reuse) the client for bufnr's root, attaching when the buffer is a file.
--- `explicit` (a command, :e!) shows the failure even when the same one was shown before;
--- `passive` (BufEnter, FileType) does not restart a server that just failed to start.
function M.start(bufnr, explicit, passive)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local root = M.root_for(bufnr)
  for _, c in ipairs(vim.lsp.get_clients({ name = M.NAME })) do
    if c.config.root_dir == root then
      if M.attachable(bufnr) then
        vim.lsp.buf_attach_client(bufnr, c.id)
      end
      return c
    end
  end
  if passive and crashed[root] then
    return nil
  end
  local choice, why = server.resolve()
  if not choice then
    M.start_failed('Qwen: ' .. why, explicit, true)
    return nil
  end
  local cmd, session = choice.cmd, nil
  if choice.direct then
    local socket = ready[root]
    ready[root] = nil
    if not socket then
      M.ensure_then_start(root, choice, bufnr, explicit)
      return nil
    end
    cmd = vim.lsp.rpc.connect(socket)
    -- What `qwen-lsp attach` would send in its hello: this Neovim's environment (plus cmd_env,
    -- as a spawned server would get it) and working directory.
    local env = vim.tbl_extend('force', vim.fn.environ(), config.options.cmd_env or {})
    session = { env = env, launch = vim.empty_dict(), cwd = util.uv.cwd() }
  end
  M.last_choice = choice
  local cfg = M.lsp_config(root, cmd, session)
  local attach = M.attachable(bufnr)
  -- vim.lsp.start reports a spawn failure through vim.notify and returns nil: keep its words
  -- for our message (and for :checkhealth) instead of showing two half-messages.
  local said = {}
  local notify = vim.notify
  vim.notify = function(msg)
    said[#said + 1] = tostring(msg)
  end
  local ok, id = pcall(function()
    if attach then
      return vim.lsp.start(cfg, { bufnr = bufnr })
    elseif util.has_011 then
      return vim.lsp.start(cfg, { bufnr = bufnr, attach = false })
    end
    return vim.lsp.start_client(cfg)
  end)
  vim.notify = notify
  if not ok or not id then
    local cause = (not ok and tostring(id) or said[1] or 'vim.lsp.start() returned no client'):gsub('%.%s*$', '')
    M.start_failed(
      ('Qwen: could not start %s (%s): %s. Run :checkhealth qwen; :QwenInstall rebuilds the private server.'):format(
        choice.exe or 'the server',
        server.SOURCE_LABELS[choice.source],
        cause
      ),
      explicit
    )
    return nil
  end
  -- The start error is cleared once the server initializes (on_init), not when it spawns.
  roots[id] = root
  shared_clients[id] = not choice.direct and choice.shared and choice.standalone ~= nil and choice.source or nil
  direct_clients[id] = choice.direct or nil
  return vim.lsp.get_client_by_id(id)
end

--- Run `qwen-lsp attach --ensure` in the background (the daemon may need a second to start;
--- Neovim must not wait for it), then start the root's client on the socket it names — or,
--- when it failed, say why and start a standalone server, as when the shim cannot start.
function M.ensure_then_start(root, choice, bufnr, explicit)
  if pending[root] then
    return
  end
  pending[root] = { buf = bufnr, cbs = {} }
  server.ensure_daemon(choice.exe, config.options.cmd_env, function(socket, why)
    local p = pending[root]
    pending[root] = nil
    if socket then
      ready[root] = socket
    else
      announce_shared_failure(why, choice.source)
    end
    local first
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if M.attachable(buf) and M.root_for(buf) == root then
        first = first or buf
        M.start(buf, explicit)
      end
    end
    local target = first or (vim.api.nvim_buf_is_valid(p.buf) and p.buf) or vim.api.nvim_get_current_buf()
    local client = M.start(target, explicit)
    ready[root] = nil
    if client and #p.cbs > 0 then
      waiting[client.id] = vim.list_extend(waiting[client.id] or {}, p.cbs)
    end
  end)
end

--- Is the client for bufnr's root on its way (its daemon being made sure of)?
function M.pending(bufnr)
  return pending[M.root_for(bufnr)] ~= nil
end

--- Attach every loaded file buffer that should have the server (after setup() or an install).
function M.attach_loaded()
  if not config.options.auto_attach then
    return
  end
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if M.attachable(buf) and #vim.lsp.get_clients({ name = M.NAME, bufnr = buf }) == 0 then
      if not M.start(buf) and not M.pending(buf) then
        return
      end
    end
  end
end

--- Run fn(client) once a client for bufnr is initialized (starting one if needed).
function M.with_client(bufnr, fn)
  local client = M.get(bufnr) or M.start(bufnr, true)
  if not client then
    local p = pending[M.root_for(bufnr)]
    if p then -- started once the daemon answers
      p.cbs[#p.cbs + 1] = fn
    end
    return
  end
  if client.initialized then
    fn(client)
  else
    waiting[client.id] = waiting[client.id] or {}
    table.insert(waiting[client.id], fn)
  end
end

--- Send a request once the client is up; cb(err, result, client).
function M.request(method, params, cb, bufnr)
  M.with_client(bufnr, function(client)
    local id = util.request(client, method, params or vim.empty_dict(), function(err, result)
      cb(err, result, client)
    end, vim.api.nvim_get_current_buf())
    if not id then
      cb({ message = 'qwen-lsp is not running' }, nil, client)
    end
  end)
end

--- What the server advertised in capabilities.experimental.qwen.
function M.qwen_caps(client)
  local caps = client and client.server_capabilities
  local exp = caps and caps.experimental
  local q = type(exp) == 'table' and exp.qwen or nil
  return type(q) == 'table' and q or {}
end

--- The auth types the server announced (capabilities.experimental.qwen.authTypes): {id, label}
--- in its catalogue's order. An older server sends only authMethods (each id stands for its
--- label); before a server answered there are none: the list is the server's alone.
function M.auth_types(client)
  local q = M.qwen_caps(client)
  local out = {}
  for _, a in ipairs(type(q.authTypes) == 'table' and q.authTypes or {}) do
    if type(a) == 'table' and type(a.id) == 'string' and a.id ~= '' then
      local label = (type(a.label) == 'string' and a.label ~= '') and a.label or a.id
      out[#out + 1] = { id = a.id, label = label }
    end
  end
  if #out == 0 then
    for _, m in ipairs(type(q.authMethods) == 'table' and q.authMethods or {}) do
      if type(m) == 'string' and m ~= '' then
        out[#out + 1] = { id = m, label = m }
      end
    end
  end
  return out
end

--- The announced auth type ids, in order.
function M.auth_methods(client)
  return vim.tbl_map(function(a)
    return a.id
  end, M.auth_types(client))
end

--- The server's label of an auth type; an id it did not announce is shown as it is.
function M.auth_type_label(client, id)
  for _, a in ipairs(M.auth_types(client)) do
    if a.id == id then
      return a.label
    end
  end
  return id
end

return M
