-- The latest qwen/status per client, the statusline text and the `User QwenStatus` event.
local M = {}

---@class qwen.Problem
---@field severity 'error'|'warning'
---@field message string
---@field file string|nil
---@field line integer|nil

---@class qwen.CompletionError
---@field kind string      auth | quota | config | upstream | timeout | ...
---@field message string
---@field model string|nil

---@class qwen.Status
---@field state 'ready'|'signingIn'|'needsAuth'|'error'
---@field authType string|nil
---@field model {id: string, name: string|nil, protocol: string}|nil
---@field message string|nil
---@field problems {count: integer, first: qwen.Problem}|nil  configuration errors and warnings
---@field lastError qwen.CompletionError|nil  the last failed completion, until one succeeds
---@field client_id integer

M.by_client = {} ---@type table<integer, qwen.Status>
M.latest = nil ---@type qwen.Status|nil
M.listeners = {} ---@type fun(status: qwen.Status, previous: qwen.Status|nil)[]

local util = require('qwen.util')

-- What was announced (see notify_changes), per client; a problem another client already
-- announced (the same user settings file seen from two workspaces) is not announced twice.
local shown_problems = {} ---@type table<integer, string>  client id -> problems key
local shown_errors = {} ---@type table<integer, table<string, boolean>>  client id -> error keys

-- vim.NIL (JSON null) becomes nil, recursively.
local function clean(v)
  if util.is_nil(v) then
    return nil
  end
  if type(v) == 'table' then
    local out = {}
    for k, x in pairs(v) do
      out[k] = clean(x)
    end
    return out
  end
  return v
end

--- Record a qwen/status notification.
function M.update(client_id, params)
  params = params or {}
  local status = {
    state = clean(params.state) or 'error',
    authType = clean(params.authType),
    model = clean(params.model),
    message = clean(params.message),
    problems = type(params.problems) == 'table' and clean(params.problems) or nil,
    lastError = type(params.lastError) == 'table' and clean(params.lastError) or nil,
    client_id = client_id,
  }
  if status.problems and type(status.problems.first) ~= 'table' then
    status.problems = nil
  end
  local previous = M.by_client[client_id]
  M.by_client[client_id] = status
  M.latest = status
  for _, fn in ipairs(M.listeners) do
    local ok, e = pcall(fn, status, previous)
    if not ok then
      vim.schedule(function()
        util.err('status listener failed: ' .. tostring(e))
      end)
    end
  end
  pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'QwenStatus', modeline = false, data = status })
  pcall(vim.cmd.redrawstatus)
end

function M.forget(client_id)
  M.by_client[client_id] = nil
  shown_problems[client_id] = nil
  shown_errors[client_id] = nil
  if M.latest and M.latest.client_id == client_id then
    M.latest = nil
    for _, s in pairs(M.by_client) do
      M.latest = s
    end
    pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'QwenStatus', modeline = false, data = M.latest or {} })
    pcall(vim.cmd.redrawstatus)
  end
end

function M.on_change(fn)
  table.insert(M.listeners, fn)
  return function()
    for i, f in ipairs(M.listeners) do
      if f == fn then
        table.remove(M.listeners, i)
        return
      end
    end
  end
end

--- The status that matters for a buffer: its own client's, else the most recent one.
function M.get(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local ok, clients = pcall(vim.lsp.get_clients, { name = 'qwen', bufnr = bufnr })
  if ok then
    for _, c in ipairs(clients) do
      if M.by_client[c.id] then
        return M.by_client[c.id]
      end
    end
  end
  return M.latest
end

local labels = {
  ready = nil, -- the model name
  signingIn = 'signing in…',
  needsAuth = 'sign-in needed',
  error = 'error',
}

local error_labels = {
  auth = 'auth error',
  quota = 'quota exhausted',
  config = 'config error',
  upstream = 'provider error',
  timeout = 'provider timeout',
}

--- What the user can do about a failed completion, by error kind.
local next_steps = {
  auth = 'Sign in again or fix the key: :Qwen signin',
  quota = 'Use an API key (:Qwen signin) or another model (:Qwen model)',
  config = 'Fix the configuration: :Qwen config shows where each value comes from',
  upstream = 'The provider failed; suggestions retry as you type (:Qwen status shows the last error)',
  timeout = 'The provider did not answer in time; suggestions retry as you type',
}

--- Where a configuration problem is: "file:line", "file" or nil.
function M.where(p)
  if type(p) ~= 'table' or not p.file then
    return nil
  end
  local file = vim.fn.fnamemodify(p.file, ':~')
  return p.line and (file .. ':' .. p.line) or file
end

--- Short text for a statusline; '' when no server has reported yet (and none failed to start).
function M.text(status)
  local fmt = require('qwen.config').options.statusline
  fmt = type(fmt) == 'table' and fmt.format or nil
  if fmt then
    local ok, s = pcall(fmt, status)
    return ok and tostring(s or '') or ''
  end
  local body
  if not status then
    local client_mod = package.loaded['qwen.client']
    if not (client_mod and client_mod.last_error) then
      return ''
    end
    body = client_mod.server_missing and 'server not installed' or 'server failed'
  elseif status.problems and status.problems.first.severity == 'error' then
    body = 'config error'
  elseif status.state == 'ready' and status.lastError then
    body = error_labels[status.lastError.kind] or 'completion error'
  elseif status.state == 'ready' then
    local m = status.model
    body = m and (m.name or m.id) or 'ready'
  else
    body = labels[status.state] or tostring(status.state)
  end
  if status and status.problems and status.problems.first.severity ~= 'error' then
    body = body .. ' (config warning)'
  end
  -- '%' is special in 'statusline' (and in lualine components).
  local text = ('Qwen: %s'):format(body):gsub('%%', '%%%%')
  return text
end

-- Notifications: once per change of the configuration problems, once per distinct completion
-- error (typing on while the endpoint is down must not repeat it), again after they cleared.

local function problems_key(p)
  if not p then
    return nil
  end
  local f = p.first
  return table.concat({ p.count or 1, f.severity or '', f.file or '', f.line or '', f.message or '' }, '\0')
end

local function error_key(e)
  return e and table.concat({ e.kind or '', e.message or '', e.model or '' }, '\0') or nil
end

function M.problem_message(p)
  local first = p.first
  local where = M.where(first)
  local more = (p.count or 1) > 1 and (' (and %d more)'):format(p.count - 1) or ''
  return ('Qwen: configuration %s%s: %s%s\nFix the file; :Qwen config shows the effective configuration.'):format(
    first.severity == 'error' and 'error' or 'warning',
    where and (' in ' .. where) or '',
    first.message or '?',
    more
  )
end

function M.error_message(e)
  local step = next_steps[e.kind] or 'See :Qwen status'
  return ('Qwen: completions fail%s: %s\n%s.'):format(
    e.model and (' (' .. e.model .. ')') or '',
    e.message or e.kind or '?',
    step
  )
end

local function notify_changes(status)
  local id = status.client_id
  local pk = problems_key(status.problems)
  local prev = shown_problems[id]
  shown_problems[id] = pk
  if pk and pk ~= prev then
    local elsewhere = false
    for cid, k in pairs(shown_problems) do
      elsewhere = elsewhere or (cid ~= id and k == pk)
    end
    if not elsewhere then
      local level = status.problems.first.severity == 'error' and vim.log.levels.ERROR or vim.log.levels.WARN
      local msg = M.problem_message(status.problems)
      vim.schedule(function()
        util.notify(msg, level)
      end)
    end
  end
  local ek = error_key(status.lastError)
  if not ek then
    shown_errors[id] = nil
  elseif not (shown_errors[id] or {})[ek] then
    shown_errors[id] = shown_errors[id] or {}
    shown_errors[id][ek] = true
    local msg = M.error_message(status.lastError)
    vim.schedule(function()
      util.notify(msg, vim.log.levels.WARN)
    end)
  end
end

local notifications_on = false
function M.setup_notifications()
  if not notifications_on then
    notifications_on = true
    M.on_change(notify_changes)
  end
end

return M
