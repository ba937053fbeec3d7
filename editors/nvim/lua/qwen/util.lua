-- Small helpers shared by the modules: notifications and Neovim-version shims.
local M = {}

M.uv = vim.uv or vim.loop
M.has_011 = vim.fn.has('nvim-0.11') == 1

function M.notify(msg, level, opts)
  level = level or vim.log.levels.INFO
  local min = require('qwen.config').options.log_level or vim.log.levels.INFO
  if level < min then
    return
  end
  vim.notify(msg, level, vim.tbl_extend('force', { title = 'Qwen' }, opts or {}))
end

function M.err(msg)
  M.notify(msg, vim.log.levels.ERROR)
end

-- client:request() in 0.11+, client.request() before (the dot form is deprecated in 0.11).
function M.request(client, method, params, handler, bufnr)
  local ok, id
  if M.has_011 then
    ok, id = client:request(method, params, handler, bufnr)
  else
    ok, id = client.request(method, params, handler, bufnr)
  end
  if ok then
    return id
  end
  return nil
end

function M.cancel(client, id)
  if not id then
    return
  end
  if M.has_011 then
    client:cancel_request(id)
  else
    client.cancel_request(id)
  end
end

function M.request_sync(client, method, params, timeout, bufnr)
  if M.has_011 then
    return client:request_sync(method, params, timeout, bufnr)
  end
  return client.request_sync(method, params, timeout, bufnr)
end

function M.supports(client, method)
  if M.has_011 then
    return client:supports_method(method)
  end
  return client.supports_method(method)
end

-- Human text for a JSON-RPC error from the server (data.kind per the protocol contract).
function M.error_text(err)
  if type(err) ~= 'table' then
    return tostring(err)
  end
  local msg = err.message or vim.inspect(err)
  local kind = type(err.data) == 'table' and err.data.kind or nil
  if kind and kind ~= vim.NIL then
    msg = ('%s [%s]'):format(msg, kind)
  end
  return msg
end

function M.is_nil(v)
  return v == nil or v == vim.NIL
end

return M
