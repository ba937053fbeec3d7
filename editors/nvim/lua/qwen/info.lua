-- :QwenStatus / :QwenConfig — the effective configuration (qwen/config) in a scratch buffer.
local client_mod = require('qwen.client')
local status = require('qwen.status')
local util = require('qwen.util')

local M = {}
M.BUFNAME = 'qwen://config'

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

local function show(lines)
  local buf = vim.fn.bufnr(M.BUFNAME)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, M.BUFNAME)
    vim.bo[buf].bufhidden = 'wipe'
    vim.bo[buf].swapfile = false
    vim.keymap.set('n', 'q', '<Cmd>close<CR>', { buffer = buf, nowait = true, desc = 'Close' })
    vim.keymap.set('n', 'R', function()
      M.open()
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

return M
