-- Turning a server answer into ghost text: pick the first usable item, check that it continues
-- what is typed, and draw it with extmarks (first line inline, the rest as virtual lines).
local S = require('qwen.inline.state')

local R = {}

local function byte_col(bufnr, row, character, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col = pcall(vim.str_byteindex, line, encoding or 'utf-16', character, false)
  if not ok then -- Neovim 0.10's signature
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

--- Show `result` (an inlineCompletion or qwen/complete answer) at row/col of bufnr.
function R.show(bufnr, client, result, row, col)
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
    virt_lines[#virt_lines + 1] = { { lines[i], S.hl() } }
  end
  S.clear(bufnr)
  local mark = {
    virt_text = { { lines[1], S.hl() } },
    virt_text_pos = 'inline',
    hl_mode = 'combine',
    priority = 1000,
    right_gravity = false,
  }
  if #virt_lines > 0 then
    mark.virt_lines = virt_lines
  end
  local id = vim.api.nvim_buf_set_extmark(bufnr, S.ns, row, col, mark)
  S.buffers[bufnr].suggestion = {
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

return R
