-- :QwenModel — list, pick and switch models.
local client_mod = require('qwen.client')
local status = require('qwen.status')
local util = require('qwen.util')

local M = {}

M.PROTOCOL_ORDER = { 'qwen-oauth', 'openai', 'anthropic', 'gemini', 'vertex-ai' }
M.PROTOCOL_LABELS = {
  ['qwen-oauth'] = 'Qwen OAuth',
  openai = 'OpenAI-compatible',
  anthropic = 'Anthropic',
  gemini = 'Gemini',
  ['vertex-ai'] = 'Vertex AI',
}

--- Last listModels/selectModel result (used for command-line completion).
M.cache = nil ---@type {authType: string|nil, current: string|nil, models: table[]}|nil

local function rank(protocol)
  for i, p in ipairs(M.PROTOCOL_ORDER) do
    if p == protocol then
      return i
    end
  end
  return #M.PROTOCOL_ORDER + 1
end

--- Models grouped by protocol (stable within a group).
function M.sorted(models)
  local items = {}
  for i, m in ipairs(models or {}) do
    items[#items + 1] = { m = m, i = i }
  end
  table.sort(items, function(a, b)
    local ra, rb = rank(a.m.protocol), rank(b.m.protocol)
    if ra ~= rb then
      return ra < rb
    end
    return a.i < b.i
  end)
  return vim.tbl_map(function(x)
    return x.m
  end, items)
end

function M.format_item(m)
  local name = (not util.is_nil(m.name) and m.name ~= m.id) and ('%s (%s)'):format(m.name, m.id) or m.id
  local proto = M.PROTOCOL_LABELS[m.protocol] or m.protocol
  local flags = {}
  if m.current then
    flags[#flags + 1] = '● current'
  end
  if m.hasCredentials == false then
    flags[#flags + 1] = '⚠ no credentials'
  end
  return ('%-17s %s%s'):format(proto, name, #flags > 0 and ('  ' .. table.concat(flags, ', ')) or '')
end

local function remember(result)
  if type(result) == 'table' and type(result.models) == 'table' then
    M.cache = result
  end
end

function M.refresh(cb)
  client_mod.request('qwen/listModels', vim.empty_dict(), function(err, result)
    if not err then
      remember(result)
    end
    if cb then
      cb(err, result)
    end
  end)
end

-- Keep the completion cache fresh whenever the server reports a change.
status.on_change(function(st, prev)
  if not prev or not st.model or not prev.model or st.model.id ~= prev.model.id or st.authType ~= prev.authType then
    vim.schedule(function()
      local c = vim.lsp.get_client_by_id(st.client_id)
      if c and c.initialized then
        util.request(c, 'qwen/listModels', vim.empty_dict(), function(err, result)
          if not err then
            remember(result)
          end
        end)
      end
    end)
  end
end)

--- Switch to model id (protocol optional, taken from the cache when unambiguous).
function M.select(id, protocol, cb)
  if not protocol and M.cache then
    local found = {}
    for _, m in ipairs(M.cache.models) do
      if m.id == id then
        found[#found + 1] = m.protocol
      end
    end
    if #found == 1 then
      protocol = found[1]
    end
  end
  local params = { id = id, protocol = protocol }
  client_mod.request('qwen/selectModel', params, function(err, result)
    if err then
      util.err(('Could not select %s: %s'):format(id, util.error_text(err)))
    else
      remember(result)
      local chosen
      for _, m in ipairs((result or {}).models or {}) do
        if m.current or m.id == (result or {}).current then
          chosen = m
          break
        end
      end
      local label = chosen and (util.is_nil(chosen.name) and chosen.id or chosen.name) or id
      if chosen and chosen.hasCredentials == false then
        util.notify(
          ('Model %s selected, but it has no credentials: run :QwenSignIn %s'):format(label, chosen.protocol),
          vim.log.levels.WARN
        )
      else
        util.notify(('Model: %s'):format(label))
      end
    end
    if cb then
      cb(err, result)
    end
  end)
end

--- vim.ui.select over every configured model.
function M.pick()
  M.refresh(function(err, result)
    if err then
      return util.err('Could not list models: ' .. util.error_text(err))
    end
    local models = M.sorted((result or {}).models)
    if #models == 0 then
      return util.notify('No models configured. See :QwenConfig and :checkhealth qwen.', vim.log.levels.WARN)
    end
    vim.ui.select(models, {
      prompt = 'Qwen model',
      kind = 'qwen.model',
      format_item = M.format_item,
    }, function(choice)
      if choice then
        M.select(choice.id, choice.protocol)
      end
    end)
  end)
end

function M.complete(arglead)
  if not M.cache then
    if client_mod.get(0) then
      M.refresh()
    end
    return {}
  end
  local seen, out = {}, {}
  for _, m in ipairs(M.sorted(M.cache.models)) do
    if not seen[m.id] and vim.startswith(m.id, arglead or '') then
      seen[m.id] = true
      out[#out + 1] = m.id
    end
  end
  return out
end

return M
