-- :QwenModel — list, pick and switch models.
local client_mod = require('qwen.client')
local status = require('qwen.status')
local util = require('qwen.util')

local M = {}

--- Last listModels/selectModel result (used for command-line completion).
M.cache = nil ---@type {authType: string|nil, current: string|nil, models: table[]}|nil

-- The server's auth types (order and labels) of the client for the current buffer.
local function auth_types()
  return client_mod.auth_types(client_mod.get(0))
end

local function rank(types, protocol)
  for i, a in ipairs(types) do
    if a.id == protocol then
      return i
    end
  end
  return #types + 1
end

--- The group a model is shown under: its provider's label (from the server), else the server's
--- label of its protocol (an id it did not announce as it is). types: client.auth_types().
function M.group(m, types)
  if type(m.provider) == 'string' and m.provider ~= '' then
    return m.provider
  end
  for _, a in ipairs(types or auth_types()) do
    if a.id == m.protocol then
      return a.label
    end
  end
  return m.protocol or '?'
end

--- Models grouped by provider (groups in the order the server lists them), then by protocol in
--- the order of the server's auth types;
--- stable within a group.
function M.sorted(models)
  local types = auth_types()
  local first, items = {}, {}
  for i, m in ipairs(models or {}) do
    local g = M.group(m, types)
    first[g] = first[g] or i
    items[#items + 1] = { m = m, i = i, g = first[g] }
  end
  table.sort(items, function(a, b)
    if a.g ~= b.g then
      return a.g < b.g
    end
    local ra, rb = rank(types, a.m.protocol), rank(types, b.m.protocol)
    if ra ~= rb then
      return ra < rb
    end
    return a.i < b.i
  end)
  return vim.tbl_map(function(x)
    return x.m
  end, items)
end

--- The picker's "ask the endpoints again" entry.
M.REFRESH = { refresh = true }

--- One picker line: provider (padded to width), name (id), then source and credentials.
function M.format_item(m, width, types)
  if m.refresh then
    return '↻ Refresh: ask the endpoints for their models again'
  end
  local name = (not util.is_nil(m.name) and m.name ~= m.id) and ('%s (%s)'):format(m.name, m.id) or m.id
  local flags = {}
  if m.current then
    flags[#flags + 1] = '● current'
  end
  if m.source == 'preset' or m.source == 'discovered' then
    flags[#flags + 1] = m.source
  end
  if m.hasCredentials == false then
    flags[#flags + 1] = '⚠ no credentials'
  end
  local group = M.group(m, types)
  local pad = math.max(width or 0, vim.fn.strdisplaywidth(group))
  return ('%s%s  %s%s'):format(
    group,
    (' '):rep(pad - vim.fn.strdisplaywidth(group)),
    name,
    #flags > 0 and ('  ' .. table.concat(flags, ', ')) or ''
  )
end

local function remember(result)
  if type(result) == 'table' and type(result.models) == 'table' then
    M.cache = result
  end
end

--- qwen/listModels; ask = true makes the server ask every listing endpoint again (and wait).
function M.refresh(cb, ask)
  local params = ask and { refresh = true } or vim.empty_dict()
  client_mod.request('qwen/listModels', params, function(err, result)
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
        M.missing_key_hint(chosen, function(hint)
          util.notify(('Model %s selected, but it has no credentials: %s'):format(label, hint), vim.log.levels.WARN)
        end)
      else
        util.notify(('Model: %s'):format(label))
      end
    end
    if cb then
      cb(err, result)
    end
  end)
end

--- What to do about a model without a key: sign in to the catalogue provider whose endpoint
--- it uses, else set the variable its settings entry reads.
function M.missing_key_hint(m, cb)
  local client = client_mod.get(0)
  local generic = 'put its key in the variable its modelProviders entry names (envKey), e.g. in '
    .. '~/.qwen/.env (:Qwen config shows where it is read)'
  if m.protocol == 'qwen-oauth' then
    return cb('run :Qwen signin qwen-oauth')
  end
  if not client or util.is_nil(m.baseUrl) or not m.baseUrl then
    return cb(generic)
  end
  require('qwen.auth').providers(client, function(providers)
    local want = m.baseUrl:gsub('/+$', '')
    for _, p in ipairs(providers or {}) do
      for _, r in ipairs(type(p.regions) == 'table' and p.regions or {}) do
        if p.authType == m.protocol and (r.baseUrl or ''):gsub('/+$', '') == want then
          local region = #p.regions > 1 and (' ' .. r.id) or ''
          return cb(('run :Qwen signin %s%s'):format(p.id, region))
        end
      end
    end
    cb(generic)
  end)
end

--- vim.ui.select over every model the server lists, grouped by provider; ask = true refreshes
--- the endpoints' listings first.
function M.pick(ask)
  M.refresh(function(err, result)
    if err then
      return util.err('Could not list models: ' .. util.error_text(err))
    end
    local models = M.sorted((result or {}).models)
    if #models == 0 then
      return util.notify('No models configured. See :QwenConfig and :checkhealth qwen.', vim.log.levels.WARN)
    end
    local types = auth_types()
    local width = 0
    for _, m in ipairs(models) do
      width = math.max(width, vim.fn.strdisplaywidth(M.group(m, types)))
    end
    local items = vim.list_extend(vim.list_slice(models), { M.REFRESH })
    vim.ui.select(items, {
      prompt = 'Qwen model',
      kind = 'qwen.model',
      format_item = function(m)
        return M.format_item(m, width, types)
      end,
    }, function(choice)
      if choice and choice.refresh then
        M.pick(true)
      elseif choice then
        M.select(choice.id, choice.protocol)
      end
    end)
  end, ask)
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
  if vim.startswith('refresh', arglead or '') and arglead ~= '' then
    out[#out + 1] = 'refresh'
  end
  return out
end

return M
