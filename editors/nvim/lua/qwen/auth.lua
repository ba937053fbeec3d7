-- :QwenSignIn / :QwenSignOut.
local browser = require('qwen.browser')
local client_mod = require('qwen.client')
local config = require('qwen.config')
local status = require('qwen.status')
local util = require('qwen.util')

local M = {}

local LABELS = {
  ['qwen-oauth'] = 'Qwen OAuth (browser sign-in)',
  openai = 'OpenAI-compatible API key',
  anthropic = 'Anthropic API key',
  gemini = 'Gemini API key',
  ['vertex-ai'] = 'Vertex AI API key',
}

--- The sign-in in progress (Qwen OAuth device flow), for the UI and for tests.
---@type {client_id: integer, method: string, code: string|nil, uri: string|nil, uri_complete: string|nil, opened: boolean|nil, open_error: string|nil, seen_signing_in: boolean, timer: any}|nil
M.session = nil
--- The last finished session's outcome: {ok: boolean, message: string}.
M.last_result = nil

--- The sign-in in progress as plain data (nil when none): method, code, uri, uri_complete, opened, open_error.
function M.info()
  local s = M.session
  if not s then
    return nil
  end
  return {
    method = s.method,
    code = s.code,
    uri = s.uri,
    uri_complete = s.uri_complete,
    opened = s.opened,
    open_error = s.open_error,
  }
end

local function stop_session(ok, message)
  local s = M.session
  if not s then
    return
  end
  M.session = nil
  if s.timer then
    s.timer:stop()
    s.timer:close()
  end
  M.last_result = { ok = ok, message = message }
  browser.close_float()
  pcall(vim.api.nvim_echo, { { '' } }, false, {})
  util.notify(message, ok and vim.log.levels.INFO or vim.log.levels.ERROR)
end

status.on_change(function(st)
  local s = M.session
  if not s or st.client_id ~= s.client_id then
    return
  end
  if st.state == 'signingIn' then
    s.seen_signing_in = true
  elseif st.state == 'ready' then
    local model = st.model and (st.model.name or st.model.id)
    vim.schedule(function()
      stop_session(true, 'Signed in' .. (model and (' — model ' .. model) or '') .. '.')
    end)
  elseif st.state == 'error' or (st.state == 'needsAuth' and s.seen_signing_in) then
    vim.schedule(function()
      stop_session(false, 'Sign-in failed: ' .. (st.message or st.state))
    end)
  end
end)

local function start_progress(s, expires_in)
  local frames = { '⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏' }
  local i, elapsed, step = 0, 0, 1000
  local limit = ((tonumber(expires_in) or 600) + 30) * 1000
  s.timer = util.uv.new_timer()
  s.timer:start(step, step, vim.schedule_wrap(function()
    if M.session ~= s then
      return
    end
    elapsed = elapsed + step
    if elapsed > limit then
      stop_session(false, 'Sign-in expired: the code was not approved in time. Run :QwenSignIn again.')
      return
    end
    -- Only in Normal mode: never draw over the command line or an insert-mode message.
    if vim.api.nvim_get_mode().mode ~= 'n' then
      return
    end
    i = i % #frames + 1
    pcall(vim.api.nvim_echo, {
      { 'Qwen: ' .. frames[i] .. ' waiting for approval in the browser — code ', 'MoreMsg' },
      { s.code or '?', 'Title' },
    }, false, {})
  end))
end

local function on_pending(client, res)
  local s = {
    client_id = client.id,
    method = 'qwen-oauth',
    code = res.userCode,
    uri = res.verificationUri,
    uri_complete = res.verificationUriComplete,
    seen_signing_in = (status.by_client[client.id] or {}).state == 'signingIn',
  }
  if M.session then
    stop_session(false, 'Previous sign-in replaced.')
  end
  M.session = s
  local url = s.uri_complete or s.uri
  local copied = s.code and browser.copy(s.code) or false
  s.copied = copied
  util.notify(('Sign in with Qwen: code %s%s. Opening %s'):format(s.code or '?', copied and ' (copied to +)' or '', url))
  start_progress(s, res.expiresIn)
  if not url then
    s.opened = false
    return browser.show_instructions({ reason = 'the server sent no URL', code = s.code })
  end
  browser.open(url, function(ok, err)
    if M.session ~= s then
      return
    end
    s.opened = ok
    s.open_error = err
    if not ok then
      util.notify(
        ('Could not open a browser (%s).\nOpen %s and enter the code %s'):format(err, s.uri or url, s.code or '?'),
        vim.log.levels.WARN
      )
      browser.show_instructions({ reason = err, uri = s.uri, uri_complete = s.uri_complete, code = s.code, copied = copied })
    end
  end)
end

local function oauth(client)
  util.request(client, 'qwen/auth', { method = 'qwen-oauth' }, function(err, res)
    if err then
      return util.err('Sign-in failed: ' .. util.error_text(err))
    end
    res = res or {}
    if res.status == 'signedIn' then
      util.notify('Signed in with Qwen OAuth.')
    elseif res.status == 'pending' then
      on_pending(client, res)
    else
      util.err('Sign-in failed: ' .. (util.is_nil(res.message) and tostring(res.status) or res.message))
    end
  end)
end

local function read_secret(prompt, cb)
  local fn = config.options.secret_input
  if fn then
    return fn({ prompt = prompt }, cb)
  end
  -- inputsecret echoes '*' for every character; scheduled so no request callback waits on it.
  vim.schedule(function()
    local ok, value = pcall(vim.fn.inputsecret, prompt)
    pcall(vim.cmd, 'redraw')
    cb(ok and value or nil)
  end)
end

local function api_key(client, method)
  read_secret(('%s: '):format(LABELS[method] or (method .. ' API key')), function(key)
    if not key or vim.trim(key) == '' then
      return util.notify('Sign-in cancelled.', vim.log.levels.WARN)
    end
    util.request(client, 'qwen/auth', { method = method, apiKey = vim.trim(key) }, function(err, res)
      if err then
        return util.err('Sign-in failed: ' .. util.error_text(err))
      end
      res = res or {}
      if res.status == 'signedIn' then
        util.notify(('Signed in (%s).'):format(method))
      else
        util.err('Sign-in failed: ' .. (util.is_nil(res.message) and tostring(res.status) or res.message))
      end
    end)
  end)
end

--- :QwenSignIn [method]
function M.sign_in(method)
  client_mod.with_client(0, function(client)
    local methods = client_mod.auth_methods(client)
    if not method or method == '' then
      if #methods == 1 then
        method = methods[1]
      else
        return vim.ui.select(methods, {
          prompt = 'Sign in to Qwen with',
          kind = 'qwen.auth_method',
          format_item = function(m)
            return LABELS[m] or m
          end,
        }, function(choice)
          if choice then
            M.sign_in(choice)
          end
        end)
      end
    end
    if not vim.tbl_contains(methods, method) then
      return util.err(('Unknown sign-in method %q; the server offers: %s'):format(method, table.concat(methods, ', ')))
    end
    if method == 'qwen-oauth' then
      oauth(client)
    else
      api_key(client, method)
    end
  end)
end

--- :QwenSignOut
function M.sign_out()
  if M.session then
    stop_session(false, 'Sign-in cancelled.')
  end
  client_mod.request('qwen/signOut', vim.empty_dict(), function(err)
    if err then
      return util.err('Sign-out failed: ' .. util.error_text(err))
    end
    util.notify('Signed out.')
  end)
end

function M.complete(arglead)
  local c = client_mod.get(0)
  local methods = c and client_mod.auth_methods(c) or client_mod.ALL_AUTH_METHODS
  return vim.tbl_filter(function(m)
    return vim.startswith(m, arglead or '')
  end, methods)
end

return M
