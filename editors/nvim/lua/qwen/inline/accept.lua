-- Acting on a suggestion: insert all of it, or its next word or line, or dismiss it. With
-- Neovim's own inline completion (0.12+) in charge of a buffer, both go through its API.
local S = require('qwen.inline.state')

local A = {}

-- The first word (or run of punctuation, or whitespace) or the first line of the ghost text.
local function piece_of(ghost, part)
  if part == 'word' then
    return ghost:match('^%s*[%w_]+') or ghost:match('^%s*[^%w_%s]+') or ghost:match('^%s+')
  end
  local piece = ghost:match('^[^\n]*\n?')
  if piece == '\n' then
    piece = ghost:match('^\n[^\n]*')
  end
  return piece
end

--- Insert the suggestion (or its first `part` of it: 'word' or 'line'). Returns true if inserted.
---@param part 'word'|'line'|nil
---@param bufnr integer|nil
---@return boolean
function A.accept(part, bufnr)
  bufnr = S.bufnr(bufnr)
  if S.native_available() and not S.buffers[bufnr] then
    local ok, accepted = pcall(vim.lsp.inline_completion.get, { bufnr = bufnr })
    return ok and accepted ~= false
  end
  local s = S.current(bufnr)
  if not s then
    return false
  end
  local text = s.text
  local whole = true
  if part == 'word' or part == 'line' then
    local piece = piece_of(s.ghost, part)
    if piece and #piece < #s.ghost then
      text = text:sub(1, #s.text - #s.ghost) .. piece
      whole = false
    end
  end
  S.clear(bufnr)
  local st = S.buffers[bufnr]
  if st then
    S.cancel(st)
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

--- Hide the suggestion and drop any answer still on its way. Returns true if one was shown.
---@param bufnr integer|nil
---@return boolean
function A.dismiss(bufnr)
  bufnr = S.bufnr(bufnr)
  if S.native_available() and not S.buffers[bufnr] then
    -- No public dismiss in the native API: re-enabling resets its state (and its ghost text).
    local ic = vim.lsp.inline_completion
    pcall(ic.enable, false, { bufnr = bufnr })
    pcall(ic.enable, true, { bufnr = bufnr })
    return true
  end
  local st = S.buffers[bufnr]
  local had = st and st.suggestion ~= nil
  if st then
    S.cancel(st)
    st.seq = st.seq + 1
  end
  S.clear(bufnr)
  return had or false
end

return A
