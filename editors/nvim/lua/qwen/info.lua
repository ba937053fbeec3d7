-- :Qwen status (what runs and how it is doing) and :Qwen config (the effective configuration
-- from qwen/config, each value with its source), each in a scratch buffer.
local client_mod = require('qwen.client')
local status = require('qwen.status')
local util = require('qwen.util')

local M = {}
M.BUFNAME = 'qwen://config'
M.STATUS_BUFNAME = 'qwen://status'

local function scalar(v)
  if util.is_nil(v) then
    return 'null'
  elseif type(v) == 'string' then
    if v:match('^[%w%._/@:+~-][%w%s%._/@:+~,()-]*$') and not v:match('%s$') and not v:match(':%s') then
      return v
    end
    return vim.json.encode(v)
  end
  return tostring(v)
end

local function is_list(t)
  if vim.islist then
    return vim.islist(t)
  end
  return vim.tbl_islist(t)
end

--- YAML-like rendering of a decoded JSON value.
function M.render(value, indent, out)
  out = out or {}
  indent = indent or ''
  if type(value) ~= 'table' then
    out[#out + 1] = indent .. scalar(value)
    return out
  end
  if is_list(value) then
    if #value == 0 then
      out[#out + 1] = indent .. '[]'
    end
    for _, v in ipairs(value) do
      if type(v) == 'table' and next(v) ~= nil then
        local sub = M.render(v, indent .. '  ', {})
        sub[1] = indent .. '- ' .. sub[1]:sub(#indent + 3)
        vim.list_extend(out, sub)
      else
        out[#out + 1] = indent .. '- ' .. (type(v) == 'table' and '{}' or scalar(v))
      end
    end
    return out
  end
  local keys = vim.tbl_keys(value)
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  for _, k in ipairs(keys) do
    local v = value[k]
    if type(v) == 'table' and next(v) ~= nil then
      out[#out + 1] = ('%s%s:'):format(indent, k)
      M.render(v, indent .. '  ', out)
    elseif type(v) == 'table' then
      out[#out + 1] = ('%s%s: %s'):format(indent, k, is_list(v) and '[]' or '{}')
    else
      out[#out + 1] = ('%s%s: %s'):format(indent, k, scalar(v))
    end
  end
  return out
end

local function header(client)
  local st = status.by_client[client.id] or status.latest
  local caps = client_mod.qwen_caps(client)
  local lines = {
    '# Qwen: ' .. (st and st.state or 'no status yet'),
    ('# server: %s %s   root: %s'):format(
      client.server_info and client.server_info.name or 'qwen-lsp',
      caps.version or (client.server_info and client.server_info.version) or '?',
      client.config.root_dir or '?'
    ),
  }
  if st then
    lines[#lines + 1] = ('# state: %s   auth: %s   model: %s'):format(
      st.state,
      st.authType or '-',
      st.model and (st.model.id .. ' (' .. tostring(st.model.protocol) .. ')') or '-'
    )
    if st.message then
      lines[#lines + 1] = '# message: ' .. st.message
    end
  end
  lines[#lines + 1] = ''
  return lines
end

local function show(lines, name, refresh)
  name = name or M.BUFNAME
  local buf = vim.fn.bufnr(name)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, name)
    vim.bo[buf].bufhidden = 'wipe'
    vim.bo[buf].swapfile = false
    vim.keymap.set('n', 'q', '<Cmd>close<CR>', { buffer = buf, nowait = true, desc = 'Close' })
    vim.keymap.set('n', 'R', function()
      (refresh or M.open)()
    end, { buffer = buf, nowait = true, desc = 'Refresh' })
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
  vim.bo[buf].filetype = 'yaml'
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    vim.cmd('botright split')
    vim.api.nvim_win_set_buf(0, buf)
  else
    vim.api.nvim_set_current_win(win)
  end
  return buf
end

--- Open (or refresh) the qwen://config buffer.
function M.open(cb)
  client_mod.request('qwen/config', vim.empty_dict(), function(err, result, client)
    local lines = header(client)
    if err then
      lines[#lines + 1] = '# qwen/config failed: ' .. util.error_text(err)
    else
      M.render(result, '', lines)
    end
    local buf = show(lines)
    if cb then
      cb(buf, err, result)
    end
  end)
end

local function model_text(m)
  if not m then
    return '-'
  end
  local name = m.name and m.name ~= m.id and (m.name .. ' / ') or ''
  return ('%s%s (%s)'):format(name, m.id, tostring(m.protocol))
end

--- Lines of the status view, from what the plugin knows (no request: works without a server).
function M.status_lines()
  local server = require('qwen.server')
  local install = require('qwen.install')
  local lines = { '# Qwen status   (q closes, R refreshes; :Qwen config shows the configuration)', '' }
  local function add(key, value)
    lines[#lines + 1] = ('%-12s %s'):format(key .. ':', value)
  end
  local choice, why = server.resolve()
  if choice then
    add('server', ('%s (%s)'):format(choice.exe or 'a cmd function', server.SOURCE_LABELS[choice.source]))
    add(
      'mode',
      choice.direct and "shared (connected to the daemon's socket)"
        or choice.shared and 'shared (qwen-lsp attach)'
        or server.shared_failure and ('standalone: the shared server could not start: ' .. server.shared_failure)
        or 'standalone'
    )
  else
    add('server', 'none: ' .. why)
  end
  local client = client_mod.get(0)
  if client then
    local caps = client_mod.qwen_caps(client)
    add(
      'running',
      ('yes, version %s, root %s'):format(
        caps.version or (client.server_info and client.server_info.version) or '?',
        client.config.root_dir or '?'
      )
    )
  elseif client_mod.last_error then
    add('running', 'no: ' .. client_mod.last_error)
  else
    add('running', 'no (it starts when you open a file)')
  end
  local st = client and status.by_client[client.id] or status.get(0)
  if st then
    add('state', st.state)
    add('sign-in', st.authType or '-')
    add('model', model_text(st.model))
    if st.message then
      add('message', st.message)
    end
    if st.problems then
      local p = st.problems
      add(
        'config',
        ('%d problem%s; first: %s%s: %s'):format(
          p.count or 1,
          (p.count or 1) == 1 and '' or 's',
          p.first.severity,
          status.where(p.first) and (' in ' .. status.where(p.first)) or '',
          p.first.message or '?'
        )
      )
    else
      add('config', 'no problems')
    end
    if st.lastError then
      local e = st.lastError
      add('last error', ('%s%s: %s'):format(e.kind or '?', e.model and (' (' .. e.model .. ')') or '', e.message or ''))
    else
      add('last error', 'none')
    end
  end
  local inline = require('qwen.inline')
  add('inline', inline.enabled and 'on' or 'off (:Qwen inline on)')
  if install.state then
    local s = install.state
    add(
      'install',
      s.running and ('running: ' .. (s.step or '')) or ((s.ok and 'done: ' or 'failed: ') .. (s.message or ''))
    )
  end
  return lines
end

--- Open (or refresh) the qwen://status buffer.
function M.open_status()
  return show(M.status_lines(), M.STATUS_BUFNAME, M.open_status)
end

return M
