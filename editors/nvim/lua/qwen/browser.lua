-- Opening the verification URL and, when that is impossible (headless, SSH, no handler),
-- showing URL and code prominently instead.
local config = require('qwen.config')
local util = require('qwen.util')

local M = {}

-- A still-running opener after this long is taken as a browser that stays in the foreground.
M.grace_ms = 3000

--- Watch a vim.SystemObj without blocking; cb(ok, err) once it exits or after grace_ms.
local function watch(obj, cb)
  local timer = util.uv.new_timer()
  local elapsed, step, done = 0, 50, false
  timer:start(
    step,
    step,
    vim.schedule_wrap(function()
      if done then
        return
      end
      elapsed = elapsed + step
      if obj:is_closing() then
        done = true
        timer:stop()
        timer:close()
        local r = obj:wait(1000) -- already exited: returns at once
        if r and r.code == 0 then
          cb(true)
        else
          cb(false, ('the opener exited with code %s'):format(r and r.code or '?'))
        end
      elseif elapsed >= M.grace_ms then
        done = true
        timer:stop()
        timer:close()
        cb(true)
      end
    end)
  )
end

local function is_system_obj(v)
  return type(v) == 'table' and type(v.wait) == 'function' and type(v.is_closing) == 'function'
end

--- Open url with the configured opener; cb(ok: boolean, err: string|nil) tells whether it worked.
function M.open(url, cb)
  local opener = config.options.opener
  if opener == false then
    return cb(false, 'opening a browser is disabled (opener = false)')
  end
  if type(opener) == 'function' then
    local ok, r1, r2 = pcall(opener, url)
    if not ok then
      return cb(false, tostring(r1))
    elseif is_system_obj(r1) then
      return watch(r1, cb)
    elseif r1 then
      return cb(true)
    end
    return cb(false, r2 and tostring(r2) or 'the opener reported failure')
  end
  if type(opener) == 'table' then
    local argv = vim.list_extend(vim.deepcopy(opener), { url })
    local ok, obj = pcall(vim.system, argv, { text = true, detach = true })
    if not ok then
      return cb(false, tostring(obj))
    end
    return watch(obj, cb)
  end
  if not vim.ui.open then
    return cb(false, 'vim.ui.open is not available')
  end
  local ok, obj, err = pcall(vim.ui.open, url)
  if not ok then
    return cb(false, tostring(obj))
  elseif not obj then
    return cb(false, err or 'vim.ui.open found no handler')
  elseif is_system_obj(obj) then
    return watch(obj, cb)
  end
  return cb(true)
end

--- Copy text to the + register when a clipboard provider exists. Returns true if copied.
function M.copy(text)
  if not config.options.copy_code or vim.fn.has('clipboard') == 0 then
    return false
  end
  local ok = pcall(vim.fn.setreg, '+', text)
  return ok
end

M.float = nil ---@type {win: integer, buf: integer}|nil

function M.close_float()
  local f = M.float
  M.float = nil
  if f and vim.api.nvim_win_is_valid(f.win) then
    pcall(vim.api.nvim_win_close, f.win, true)
  end
end

--- Show the sign-in instructions in a centered floating window.
function M.show_instructions(info)
  M.close_float()
  local lines = { '' }
  local function add(s)
    table.insert(lines, '  ' .. s)
  end
  if info.reason then
    add('Could not open a browser: ' .. info.reason)
    add('')
  end
  add('Open this URL in a browser on any device:')
  add('')
  add('    ' .. (info.uri or info.uri_complete))
  add('')
  add('and enter the code:')
  add('')
  add('    ' .. (info.code or '?'))
  if info.uri_complete and info.uri and info.uri_complete ~= info.uri then
    add('')
    add('Or open this link, which already carries the code:')
    add('    ' .. info.uri_complete)
  end
  add('')
  add(info.copied and 'The code is in the + register.  Press q to close.' or 'Press q to close.')
  table.insert(lines, '')

  local width = 0
  for _, l in ipairs(lines) do
    width = math.max(width, vim.fn.strdisplaywidth(l) + 2)
  end
  width = math.min(width, math.max(20, vim.o.columns - 4))
  local height = math.min(#lines, math.max(3, vim.o.lines - 4))
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].filetype = 'qwen-signin'
  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'editor',
    width = width,
    height = height,
    row = math.max(0, math.floor((vim.o.lines - height) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    style = 'minimal',
    border = 'rounded',
    title = ' Qwen sign-in ',
    title_pos = 'center',
  })
  vim.wo[win].wrap = true
  for _, lhs in ipairs({ 'q', '<Esc>' }) do
    vim.keymap.set('n', lhs, M.close_float, { buffer = buf, nowait = true, desc = 'Close Qwen sign-in' })
  end
  -- Highlight the code so it stands out.
  local ns = vim.api.nvim_create_namespace('qwen.signin')
  for i, l in ipairs(lines) do
    if info.code and l:find(info.code, 1, true) then
      local s = l:find(info.code, 1, true)
      pcall(vim.api.nvim_buf_set_extmark, buf, ns, i - 1, s - 1, { end_col = s - 1 + #info.code, hl_group = 'Title' })
    end
  end
  M.float = { win = win, buf = buf }
  return M.float
end

return M
