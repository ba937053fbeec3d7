-- Inline completions as ghost text. Uses vim.lsp.inline_completion (Neovim 0.12+) when present,
-- otherwise requests textDocument/inlineCompletion (or qwen/complete) itself: debounced after
-- typing, the in-flight request cancelled by the next keystroke, shown with extmarks.
local config = require('qwen.config')
local util = require('qwen.util')

local M = {}

M.ns = vim.api.nvim_create_namespace('qwen.inline')
M.enabled = true
M.last_error = nil ---@type string|nil

---@class qwen.Suggestion
---@field text string        the text that replaces `range`
---@field ghost string       the part shown after the cursor
---@field range integer[]    {start_row, start_col, end_row, end_col}, 0-based bytes
---@field row integer
---@field col integer
---@field extmark integer
---@field client_id integer
---@field command table|nil

---@type table<integer, {timer: any, seq: integer, req: {client: table, id: integer}|nil, suggestion: qwen.Suggestion|nil, augroup: integer, client_id: integer}>
local buffers = {}

local function opts()
  return config.options.inline or {}
end

function M.native_available()
  local ic = vim.lsp.inline_completion
  return opts().native ~= false and type(ic) == 'table' and type(ic.enable) == 'function'
end

local function hl()
  return opts().hl_group or 'QwenSuggestion'
end

local function ft_allowed(bufnr)
  local fts = opts().filetypes
  return not fts or vim.tbl_contains(fts, vim.bo[bufnr].filetype)
end

local function cancel(st)
  if st.req then
    pcall(util.cancel, st.req.client, st.req.id)
    st.req = nil
  end
  if st.timer then
    st.timer:stop()
  end
end

local function clear(bufnr)
  local st = buffers[bufnr]
  if st and st.suggestion then
    st.suggestion = nil
  end
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

--- The suggestion shown in bufnr (nil when none).
function M.current(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local st = buffers[bufnr]
  return st and st.suggestion or nil
end

function M.visible(bufnr)
  return M.current(bufnr) ~= nil
end

local function byte_col(bufnr, row, character, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col = pcall(vim.str_byteindex, line, encoding or 'utf-16', character, false)
  if not ok then
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  return ok and col or #line
end

local function first_item(result)
  if type(result) ~= 'table' then
    return nil
  end
  if type(result.text) == 'string' then -- qwen/complete
    return { insertText = result.text }
  end
  local items = result.items or result
  for _, item in ipairs(items) do
    local t = item.insertText
    if type(t) == 'table' then
      t = t.value
    end
    if type(t) == 'string' and t ~= '' then
      return item, t
    end
  end
  return nil
end

local function show(bufnr, client, result, row, col)
  local item, text = first_item(result)
  text = text or (item and item.insertText)
  if not item or type(text) ~= 'string' or text == '' then
    return
  end
  local range = { row, col, row, col }
  if type(item.range) == 'table' and item.range.start then
    local enc = client.offset_encoding
    local s, e = item.range.start, item.range['end']
    range = { s.line, byte_col(bufnr, s.line, s.character, enc), e.line, byte_col(bufnr, e.line, e.character, enc) }
  end
  -- Only a suggestion that continues what is typed on this line can be shown as ghost text.
  if range[1] ~= row or range[2] > col then
    return
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local typed = line:sub(range[2] + 1, col)
  if text:sub(1, #typed) ~= typed then
    return
  end
  local ghost = text:sub(#typed + 1)
  if ghost == '' then
    return
  end
  local lines = vim.split(ghost, '\n', { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], hl() } }
  end
  clear(bufnr)
  local mark = {
    virt_text = { { lines[1], hl() } },
    virt_text_pos = 'inline',
    hl_mode = 'combine',
    priority = 1000,
    right_gravity = false,
  }
  if #virt_lines > 0 then
    mark.virt_lines = virt_lines
  end
  local id = vim.api.nvim_buf_set_extmark(bufnr, M.ns, row, col, mark)
  buffers[bufnr].suggestion = {
    text = text,
    ghost = ghost,
    range = range,
    row = row,
    col = col,
    extmark = id,
    client_id = client.id,
    command = item.command,
  }
  pcall(
    vim.api.nvim_exec_autocmds,
    'User',
    { pattern = 'QwenSuggestion', modeline = false, data = { bufnr = bufnr, text = ghost } }
  )
end

--- Ask for a suggestion at the cursor now. trigger_kind: 1 = invoked, 2 = automatic.
function M.request(bufnr, trigger_kind)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local st = buffers[bufnr]
  if not st or not M.enabled or bufnr ~= vim.api.nvim_get_current_buf() then
    return
  end
  local client = vim.lsp.get_client_by_id(st.client_id)
  if not client or not client.initialized then
    return
  end
  cancel(st)
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
        M.last_error = util.error_text(err)
        if trigger_kind == 1 then
          util.notify('No suggestion: ' .. M.last_error, vim.log.levels.WARN)
        end
      end
      return
    end
    M.last_error = nil
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
    show(bufnr, client, result, row, col)
  end, bufnr)
  if id then
    st.req = { client = client, id = id }
  end
end

local function schedule(bufnr)
  local st = buffers[bufnr]
  if not st or not M.enabled then
    return
  end
  cancel(st)
  clear(bufnr)
  st.timer = st.timer or util.uv.new_timer()
  st.timer:start(
    opts().debounce or 75,
    0,
    vim.schedule_wrap(function()
      M.request(bufnr, 2)
    end)
  )
end

--- Insert the suggestion (or its first `part` of it: 'word' or 'line'). Returns true if inserted.
function M.accept(part, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if M.native_available() and not buffers[bufnr] then
    local ok, accepted = pcall(vim.lsp.inline_completion.get, { bufnr = bufnr })
    return ok and accepted ~= false
  end
  local s = M.current(bufnr)
  if not s then
    return false
  end
  local text = s.text
  local whole = true
  if part == 'word' or part == 'line' then
    local ghost = s.ghost
    local piece
    if part == 'word' then
      piece = ghost:match('^%s*[%w_]+') or ghost:match('^%s*[^%w_%s]+') or ghost:match('^%s+')
    else
      piece = ghost:match('^[^\n]*\n?')
      if piece == '\n' then
        piece = ghost:match('^\n[^\n]*')
      end
    end
    if piece and #piece < #ghost then
      text = text:sub(1, #s.text - #ghost) .. piece
      whole = false
    end
  end
  clear(bufnr)
  local st = buffers[bufnr]
  if st then
    cancel(st)
  end
  local lines = vim.split(text, '\n', { plain = true })
  local r = s.range
  local end_row, end_col = r[3], r[4]
  if not whole then
    end_row, end_col = s.row, s.col -- a partial accept keeps what follows the cursor
  end
  vim.api.nvim_buf_set_text(bufnr, r[1], r[2], end_row, end_col, lines)
  local last_row = r[1] + #lines - 1
  local last_col = (#lines == 1 and r[2] or 0) + #lines[#lines]
  pcall(vim.api.nvim_win_set_cursor, 0, { last_row + 1, last_col })
  if whole and s.command then
    local client = vim.lsp.get_client_by_id(s.client_id)
    if client and client.exec_cmd then
      pcall(client.exec_cmd, client, s.command, { bufnr = bufnr })
    end
  end
  return true
end

function M.dismiss(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if M.native_available() and not buffers[bufnr] then
    -- No public dismiss in the native API: re-enabling resets its state (and its ghost text).
    local ic = vim.lsp.inline_completion
    pcall(ic.enable, false, { bufnr = bufnr })
    pcall(ic.enable, true, { bufnr = bufnr })
    return true
  end
  local st = buffers[bufnr]
  local had = st and st.suggestion ~= nil
  if st then
    cancel(st)
    st.seq = st.seq + 1
  end
  clear(bufnr)
  return had or false
end

--- Set up ghost text for a buffer the server attached to.
function M.attach(bufnr, client)
  local o = opts()
  if o.enabled == false or not ft_allowed(bufnr) then
    return
  end
  if M.native_available() then
    local ok = pcall(vim.lsp.inline_completion.enable, true, { bufnr = bufnr, client_id = client.id })
    if ok then
      return
    end
  end
  if buffers[bufnr] then
    buffers[bufnr].client_id = client.id
    return
  end
  local group = vim.api.nvim_create_augroup('qwen.inline.' .. bufnr, { clear = true })
  buffers[bufnr] = { seq = 0, augroup = group, client_id = client.id }
  vim.api.nvim_create_autocmd('TextChangedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      schedule(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      local s = M.current(bufnr)
      if s then
        local c = vim.api.nvim_win_get_cursor(0)
        if c[1] - 1 ~= s.row or c[2] ~= s.col then
          M.dismiss(bufnr)
        end
      end
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
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
  local st = buffers[bufnr]
  if not st then
    return
  end
  cancel(st)
  if st.timer and not st.timer:is_closing() then
    st.timer:close()
  end
  pcall(vim.api.nvim_del_augroup_by_id, st.augroup)
  buffers[bufnr] = nil
  clear(bufnr)
end

function M.set_enabled(on)
  if on == nil then
    on = not M.enabled
  end
  M.enabled = on
  if not on then
    for b in pairs(buffers) do
      M.dismiss(b)
    end
  end
  if M.native_available() then
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
  local km = opts().keymaps or {}
  map(km.accept, function()
    return M.accept()
  end, 'Qwen: accept suggestion')
  map(km.accept_word, function()
    return M.accept('word')
  end, 'Qwen: accept next word')
  map(km.accept_line, function()
    return M.accept('line')
  end, 'Qwen: accept line')
  map(km.dismiss, function()
    return M.visible() and M.dismiss()
  end, 'Qwen: dismiss suggestion')
  map(km.trigger, function()
    if M.native_available() and not buffers[vim.api.nvim_get_current_buf()] then
      return pcall(vim.lsp.inline_completion.get)
    end
    if not buffers[vim.api.nvim_get_current_buf()] then
      return false
    end
    M.request(0, 1)
    return true
  end, 'Qwen: suggest')
  vim.api.nvim_set_hl(0, 'QwenSuggestion', { link = 'Comment', default = true })
end

return M
