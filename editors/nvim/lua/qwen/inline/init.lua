-- Inline completions as ghost text. Uses vim.lsp.inline_completion (Neovim 0.12+) when present,
-- otherwise requests textDocument/inlineCompletion (or qwen/complete) itself: debounced after
-- typing, the in-flight request cancelled by the next keystroke, shown with extmarks.
--
-- This module wires buffers and keys; the work is in state (shared per-buffer state), request
-- (asking the server), render (ghost text) and accept (insert or dismiss).
local S = require('qwen.inline.state')
local accept = require('qwen.inline.accept')
local request = require('qwen.inline.request')
local util = require('qwen.util')

---@class qwen.Inline
---@field ns integer                 the extmark namespace of the ghost text
---@field enabled boolean            false after :Qwen toggle (or set_enabled(false))
---@field last_error string|nil      why the last automatic request failed (the statusline shows it)
local M = {}

-- `enabled`, `last_error` and `ns` live in the shared state; reading and setting them here
-- stays the API (setup() sets `enabled` from the options).
local SHARED = { enabled = true, last_error = true, ns = true }
setmetatable(M, {
  __index = function(_, k)
    if SHARED[k] then
      return S[k]
    end
  end,
  __newindex = function(t, k, v)
    if SHARED[k] then
      S[k] = v
    else
      rawset(t, k, v)
    end
  end,
})

M.native_available = S.native_available
M.current = S.current
M.request = request.request
M.accept = accept.accept
M.dismiss = accept.dismiss

---@param bufnr integer|nil
---@return boolean
function M.visible(bufnr)
  return S.current(bufnr) ~= nil
end

local function ft_allowed(bufnr)
  local fts = S.opts().filetypes
  return not fts or vim.tbl_contains(fts, vim.bo[bufnr].filetype)
end

--- Set up ghost text for a buffer the server attached to.
function M.attach(bufnr, client)
  local o = S.opts()
  if o.enabled == false or not ft_allowed(bufnr) then
    return
  end
  if S.native_available() then
    local ok = pcall(vim.lsp.inline_completion.enable, true, { bufnr = bufnr, client_id = client.id })
    if ok then
      return
    end
  end
  if S.buffers[bufnr] then
    S.buffers[bufnr].client_id = client.id
    return
  end
  local group = vim.api.nvim_create_augroup('qwen.inline.' .. bufnr, { clear = true })
  S.buffers[bufnr] = { seq = 0, augroup = group, client_id = client.id }
  vim.api.nvim_create_autocmd('TextChangedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      request.schedule(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      local s = S.current(bufnr)
      if s then
        local c = vim.api.nvim_win_get_cursor(0)
        if c[1] - 1 ~= s.row or c[2] ~= s.col then
          accept.dismiss(bufnr)
        end
      end
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      accept.dismiss(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ 'BufWipeout', 'BufUnload' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
end

function M.detach(bufnr)
  local st = S.buffers[bufnr]
  if not st then
    return
  end
  S.cancel(st)
  if st.timer and not st.timer:is_closing() then
    st.timer:close()
  end
  pcall(vim.api.nvim_del_augroup_by_id, st.augroup)
  S.buffers[bufnr] = nil
  S.clear(bufnr)
end

--- Turn suggestions on or off (toggle when `on` is nil).
---@param on boolean|nil
function M.set_enabled(on)
  if on == nil then
    on = not S.enabled
  end
  S.enabled = on
  if not on then
    for b in pairs(S.buffers) do
      accept.dismiss(b)
    end
  end
  if S.native_available() then
    pcall(vim.lsp.inline_completion.enable, on)
  end
  util.notify('Inline suggestions ' .. (on and 'on' or 'off') .. '.')
end

local function map(lhs, fn, desc)
  if not lhs or lhs == '' then
    return
  end
  vim.keymap.set('i', lhs, function()
    if not fn() then
      -- Nothing to act on: behave as if the key were not mapped.
      vim.api.nvim_feedkeys(
        vim.keycode and vim.keycode(lhs) or vim.api.nvim_replace_termcodes(lhs, true, false, true),
        'nt',
        false
      )
    end
  end, { desc = desc, silent = true })
end

--- Global insert-mode keymaps (they fall through to the key's usual meaning when idle).
function M.setup_keymaps()
  local km = S.opts().keymaps or {}
  map(km.accept, function()
    return accept.accept()
  end, 'Qwen: accept suggestion')
  map(km.accept_word, function()
    return accept.accept('word')
  end, 'Qwen: accept next word')
  map(km.accept_line, function()
    return accept.accept('line')
  end, 'Qwen: accept line')
  map(km.dismiss, function()
    return M.visible() and accept.dismiss()
  end, 'Qwen: dismiss suggestion')
  map(km.trigger, function()
    local bufnr = vim.api.nvim_get_current_buf()
    if S.native_available() and not S.buffers[bufnr] then
      return pcall(vim.lsp.inline_completion.get)
    end
    if not S.buffers[bufnr] then
      return false
    end
    request.request(0, 1)
    return true
  end, 'Qwen: suggest')
  vim.api.nvim_set_hl(0, 'QwenSuggestion', { link = 'Comment', default = true })
end

return M
