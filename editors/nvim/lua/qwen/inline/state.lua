-- What the inline-completion modules share: the per-buffer state, the options, and the few
-- operations every one of them needs (cancel the request in flight, clear the ghost text).
local config = require('qwen.config')
local util = require('qwen.util')

---@class qwen.Suggestion
---@field text string        the text that replaces `range`
---@field ghost string       the part shown after the cursor
---@field range integer[]    {start_row, start_col, end_row, end_col}, 0-based bytes
---@field row integer
---@field col integer
---@field extmark integer
---@field client_id integer
---@field command table|nil

---@class qwen.InlineBuffer
---@field timer any
---@field seq integer          bumped by every request and dismiss: older answers are dropped
---@field req {client: table, id: integer}|nil
---@field suggestion qwen.Suggestion|nil
---@field augroup integer
---@field client_id integer

local S = {}

S.ns = vim.api.nvim_create_namespace('qwen.inline')
S.enabled = true
S.last_error = nil ---@type string|nil
---@type table<integer, qwen.InlineBuffer>
S.buffers = {}

function S.opts()
  return config.options.inline or {}
end

function S.hl()
  return S.opts().hl_group or 'QwenSuggestion'
end

--- 0 or nil means the current buffer.
---@param bufnr integer|nil
---@return integer
function S.bufnr(bufnr)
  return (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
end

function S.native_available()
  local ic = vim.lsp.inline_completion
  return S.opts().native ~= false and type(ic) == 'table' and type(ic.enable) == 'function'
end

---@param st qwen.InlineBuffer
function S.cancel(st)
  if st.req then
    pcall(util.cancel, st.req.client, st.req.id)
    st.req = nil
  end
  if st.timer then
    st.timer:stop()
  end
end

function S.clear(bufnr)
  local st = S.buffers[bufnr]
  if st then
    st.suggestion = nil
  end
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, S.ns, 0, -1)
  end
end

---@return qwen.Suggestion|nil
function S.current(bufnr)
  local st = S.buffers[S.bufnr(bufnr)]
  return st and st.suggestion or nil
end

return S
