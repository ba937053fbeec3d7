-- The latest qwen/status per client, the statusline text and the `User QwenStatus` event.
local M = {}

---@class qwen.Status
---@field state 'ready'|'signingIn'|'needsAuth'|'error'
---@field authType string|nil
---@field model {id: string, name: string|nil, protocol: string}|nil
---@field message string|nil
---@field client_id integer

M.by_client = {} ---@type table<integer, qwen.Status>
M.latest = nil ---@type qwen.Status|nil
M.listeners = {} ---@type fun(status: qwen.Status, previous: qwen.Status|nil)[]

local util = require('qwen.util')

local function clean(v)
  if util.is_nil(v) then
    return nil
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
    client_id = client_id,
  }
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

--- Short text for a statusline; '' when no server has reported yet.
function M.text(status)
  local fmt = require('qwen.config').options.statusline
  fmt = type(fmt) == 'table' and fmt.format or nil
  if fmt then
    local ok, s = pcall(fmt, status)
    return ok and tostring(s or '') or ''
  end
  if not status then
    return ''
  end
  local body
  if status.state == 'ready' then
    local m = status.model
    body = m and (clean(m.name) or m.id) or 'ready'
  else
    body = labels[status.state] or tostring(status.state)
  end
  -- '%' is special in 'statusline' (and in lualine components).
  local text = ('Qwen: %s'):format(body):gsub('%%', '%%%%')
  return text
end

return M
