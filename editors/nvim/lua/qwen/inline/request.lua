-- Asking the server: debounced after typing, one request in flight per buffer (the next
-- keystroke cancels it), and an answer shown only if the cursor and text are still where it
-- was asked for.
local S = require('qwen.inline.state')
local render = require('qwen.inline.render')
local util = require('qwen.util')

local Q = {}

--- Ask for a suggestion at the cursor now. trigger_kind: 1 = invoked, 2 = automatic.
function Q.request(bufnr, trigger_kind)
  bufnr = S.bufnr(bufnr)
  local st = S.buffers[bufnr]
  if not st or not S.enabled or bufnr ~= vim.api.nvim_get_current_buf() then
    return
  end
  local client = vim.lsp.get_client_by_id(st.client_id)
  if not client or not client.initialized then
    return
  end
  S.cancel(st)
  st.seq = st.seq + 1
  local seq = st.seq
  local win = vim.api.nvim_get_current_win()
  local cursor = vim.api.nvim_win_get_cursor(win)
  local row, col = cursor[1] - 1, cursor[2]
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local pos = vim.lsp.util.make_position_params(win, client.offset_encoding)
  local method, params
  local caps = client.server_capabilities or {}
  if caps.inlineCompletionProvider or util.supports(client, 'textDocument/inlineCompletion') then
    method = 'textDocument/inlineCompletion'
    params = { textDocument = pos.textDocument, position = pos.position, context = { triggerKind = trigger_kind or 2 } }
  else
    method = 'qwen/complete'
    params = { textDocument = pos.textDocument, position = pos.position }
  end
  local id
  id = util.request(client, method, params, function(err, result)
    if st.req and st.req.id == id then
      st.req = nil
    end
    if seq ~= st.seq then
      return -- superseded
    end
    if err then
      local kind = type(err.data) == 'table' and err.data.kind or nil
      if kind ~= 'cancelled' and err.code ~= -32800 then
        S.last_error = util.error_text(err)
        if trigger_kind == 1 then
          util.notify('No suggestion: ' .. S.last_error, vim.log.levels.WARN)
        end
      end
      return
    end
    S.last_error = nil
    if not vim.api.nvim_buf_is_valid(bufnr) or vim.api.nvim_get_current_buf() ~= bufnr then
      return
    end
    local mode = vim.api.nvim_get_mode().mode
    if mode:sub(1, 1) ~= 'i' or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick then
      return
    end
    local now = vim.api.nvim_win_get_cursor(0)
    if now[1] - 1 ~= row or now[2] ~= col then
      return
    end
    render.show(bufnr, client, result, row, col)
  end, bufnr)
  if id then
    st.req = { client = client, id = id }
  end
end

--- Ask again once typing pauses (the `debounce` option, in ms).
function Q.schedule(bufnr)
  local st = S.buffers[bufnr]
  if not st or not S.enabled then
    return
  end
  S.cancel(st)
  S.clear(bufnr)
  st.timer = st.timer or util.uv.new_timer()
  st.timer:start(
    S.opts().debounce or 75,
    0,
    vim.schedule_wrap(function()
      Q.request(bufnr, 2)
    end)
  )
end

return Q
