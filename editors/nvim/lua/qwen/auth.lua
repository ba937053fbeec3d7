-- :QwenSignIn / :QwenSignOut.
local browser = require('qwen.browser')
local client_mod = require('qwen.client')
local config = require('qwen.config')
local status = require('qwen.status')
local util = require('qwen.util')

local M = {}

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
  s.timer:start(
    step,
    step,
    vim.schedule_wrap(function()
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
    end)
  )
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
  util.notify(
    ('Sign in with Qwen: code %s%s. Opening %s'):format(s.code or '?', copied and ' (copied to +)' or '', url)
  )
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
      browser.show_instructions({
        reason = err,
        uri = s.uri,
        uri_complete = s.uri_complete,
        code = s.code,
        copied = copied,
      })
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

-- info: lines shown above the prompt (kept in :messages, so the link can be copied later).
local function read_secret(prompt, cb, info)
  local fn = config.options.secret_input
  if fn then
    return fn({ prompt = info and (info .. '\n' .. prompt) or prompt }, cb)
  end
  -- inputsecret echoes '*' for every character; scheduled so no request callback waits on it.
  vim.schedule(function()
    if info then
      vim.api.nvim_echo({ { info, 'MoreMsg' } }, true, {})
    end
    local ok, value = pcall(vim.fn.inputsecret, prompt)
    pcall(vim.cmd, 'redraw')
    cb(ok and value or nil)
  end)
end

local function report(res, what)
  res = res or {}
  if res.status == 'signedIn' then
    local model = not util.is_nil(res.model) and res.model or nil
    util.notify(('Signed in (%s)%s.'):format(what, model and (' — model ' .. model) or ''))
    -- e.g. "the key could not be verified right now": signed in, but worth knowing
    if not util.is_nil(res.message) and res.message then
      util.notify(res.message, vim.log.levels.WARN)
    end
  else
    util.err('Sign-in failed: ' .. (util.is_nil(res.message) and tostring(res.status) or res.message))
  end
end

-- Older servers without a catalogue: a key for the protocol's configured endpoint.
local function api_key(client, method)
  read_secret(('%s: '):format(M.method_label(client, method)), function(key)
    if not key or vim.trim(key) == '' then
      return util.notify('Sign-in cancelled.', vim.log.levels.WARN)
    end
    util.request(client, 'qwen/auth', { method = method, apiKey = vim.trim(key) }, function(err, res)
      if err then
        return util.err('Sign-in failed: ' .. util.error_text(err))
      end
      report(res, method)
    end)
  end)
end

--- The catalogue from qwen/providers per client id (false: the server has none).
M.catalogue = {}

local function fetch_providers(client, cb)
  local have = M.catalogue[client.id]
  if have ~= nil then
    return cb(have or nil)
  end
  util.request(client, 'qwen/providers', vim.empty_dict(), function(err, res)
    local list = (not err and type(res) == 'table' and type(res.providers) == 'table') and res.providers or false
    M.catalogue[client.id] = list
    cb(list or nil)
  end)
end

--- cb(providers|nil): the server's catalogue (asked once per client).
M.providers = fetch_providers

-- The providers this server can sign in to (its auth types), in catalogue order; a server that
-- announced none leaves the catalogue as it is.
local function offered(client, providers)
  local methods = client_mod.auth_methods(client)
  if #methods == 0 then
    return providers
  end
  return vim.tbl_filter(function(p)
    return vim.tbl_contains(methods, p.authType)
  end, providers)
end

local function present(v)
  return v ~= nil and not util.is_nil(v) and v ~= ''
end

--- One line of the provider picker: label, key hint, regions.
function M.format_provider(p)
  local parts = { p.label }
  if present(p.keyHint) then
    parts[#parts + 1] = 'key ' .. p.keyHint
  end
  if type(p.regions) == 'table' and #p.regions > 1 then
    parts[#parts + 1] = ('%d regions'):format(#p.regions)
  end
  if p.needsBaseUrl then
    parts[#parts + 1] = 'your endpoint'
  end
  return table.concat(parts, '  ·  ')
end

--- What the key prompt shows: info (provider, region, where to get a key) and the prompt
--- itself (with what a key looks like).
function M.key_prompt(p, region)
  local info = { p.label .. ((region and present(region.label)) and (' — ' .. region.label) or '') }
  if present(p.docsUrl) then
    info[#info + 1] = 'Get a key: ' .. p.docsUrl
  end
  local hint = present(p.keyHint) and p.keyHint or (present(p.keyPrefix) and (p.keyPrefix .. '...') or nil)
  local prompt = ('%s API key%s: '):format(p.label, hint and (' (' .. hint .. ')') or '')
  return table.concat(info, '\n'), prompt
end

local function sign_in_preset(client, p, region)
  local function with_base_url(base_url)
    local info, prompt = M.key_prompt(p, region)
    read_secret(prompt, function(key)
      if not key or vim.trim(key) == '' then
        return util.notify('Sign-in cancelled.', vim.log.levels.WARN)
      end
      local params = {
        provider = p.id,
        region = region and region.id or nil,
        apiKey = vim.trim(key),
        baseUrl = base_url,
        persist = config.options.remember ~= false,
        keyStore = config.options.key_store,
      }
      util.request(client, 'qwen/auth', params, function(err, res)
        if err then
          return util.err('Sign-in failed: ' .. util.error_text(err))
        end
        report(res, p.label)
      end)
    end, info)
  end
  if not p.needsBaseUrl then
    return with_base_url(nil)
  end
  local hint = present(p.keyHint) and ('\n' .. p.keyHint) or ''
  vim.schedule(function()
    vim.ui.input({ prompt = p.label .. hint .. '\nBase URL: ' }, function(url)
      if not url or vim.trim(url) == '' then
        return util.notify('Sign-in cancelled.', vim.log.levels.WARN)
      end
      with_base_url(vim.trim(url))
    end)
  end)
end

local function sign_in_provider(client, p, region_id)
  if p.authType == 'qwen-oauth' then
    return oauth(client)
  end
  local regions = type(p.regions) == 'table' and p.regions or {}
  if region_id then
    for _, r in ipairs(regions) do
      if r.id == region_id then
        return sign_in_preset(client, p, r)
      end
    end
    local ids = vim.tbl_map(function(r)
      return r.id
    end, regions)
    return util.err(('%s has no region %q; its regions: %s'):format(p.label, region_id, table.concat(ids, ', ')))
  end
  if #regions <= 1 then
    return sign_in_preset(client, p, regions[1])
  end
  vim.ui.select(regions, {
    prompt = p.label .. ': region',
    kind = 'qwen.region',
    format_item = function(r)
      return ('%s  ·  %s'):format(r.label, r.baseUrl)
    end,
  }, function(r)
    if r then
      sign_in_preset(client, p, r)
    end
  end)
end

-- By auth method, for a server without qwen/providers.
--- One line of the bare-method picker (a server without qwen/providers): the server's label.
function M.method_label(client, method)
  local label = client_mod.auth_type_label(client, method)
  return label .. (method == 'qwen-oauth' and ' (browser sign-in)' or ' API key')
end

local function sign_in_method(client, method)
  local methods = client_mod.auth_methods(client)
  if #methods == 0 then
    return util.err('qwen-lsp announced no sign-in methods; see :Qwen status and :checkhealth qwen')
  end
  if not method then
    return vim.ui.select(methods, {
      prompt = 'Sign in to Qwen with',
      kind = 'qwen.auth_method',
      format_item = function(m)
        return M.method_label(client, m)
      end,
    }, function(choice)
      if choice then
        sign_in_method(client, choice)
      end
    end)
  end
  if not vim.tbl_contains(methods, method) then
    return util.err(('Unknown sign-in method %q; the server offers: %s'):format(method, table.concat(methods, ', ')))
  end
  if method == 'qwen-oauth' then
    oauth(client)
  else
    api_key(client, method)
  end
end

--- :Qwen signin [provider [region]] — the server's catalogue (qwen/providers) in pickers.
function M.sign_in(arg)
  local provider_id, region_id
  if arg and vim.trim(arg) ~= '' then
    provider_id, region_id = unpack(vim.split(vim.trim(arg), '%s+'))
  end
  client_mod.with_client(0, function(client)
    fetch_providers(client, function(providers)
      if not providers then
        return sign_in_method(client, provider_id)
      end
      local list = offered(client, providers)
      if not provider_id then
        return vim.ui.select(list, {
          prompt = 'Sign in to',
          kind = 'qwen.provider',
          format_item = M.format_provider,
        }, function(p)
          if p then
            sign_in_provider(client, p)
          end
        end)
      end
      for _, p in ipairs(list) do
        if p.id == provider_id then
          return sign_in_provider(client, p, region_id)
        end
      end
      local ids = vim.tbl_map(function(p)
        return p.id
      end, list)
      util.err(('Unknown provider %q; the server offers: %s'):format(provider_id, table.concat(ids, ', ')))
    end)
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

--- Completion of :Qwen signin: the server's provider ids (its auth methods on an older server).
function M.complete(arglead)
  local c = client_mod.get(0)
  local ids
  if c and c.initialized then
    local have = M.catalogue[c.id]
    if have == nil then
      local res = util.request_sync(c, 'qwen/providers', vim.empty_dict(), 2000)
      if res and res.err then
        have = false
      elseif res and type(res.result) == 'table' and type(res.result.providers) == 'table' then
        have = res.result.providers
      end
      M.catalogue[c.id] = have -- stays nil after a timeout: asked again next time
    end
    if have then
      ids = vim.tbl_map(function(p)
        return p.id
      end, offered(c, have))
    end
  end
  -- no server yet: nothing to offer (the methods are the server's to name)
  ids = ids or client_mod.auth_methods(c)
  return vim.tbl_filter(function(m)
    return vim.startswith(m, arglead or '')
  end, ids)
end

return M
