-- User commands for qwen.nvim. Everything else loads on first use.
if vim.g.loaded_qwen then
  return
end
vim.g.loaded_qwen = true

if vim.fn.has('nvim-0.10') == 0 then
  vim.api.nvim_echo({ { 'qwen.nvim needs Neovim 0.10 or newer', 'WarningMsg' } }, true, {})
  return
end

local function qwen()
  return require('qwen')
end

local command = vim.api.nvim_create_user_command

command('QwenSignIn', function(o)
  qwen().sign_in(o.fargs[1])
end, {
  nargs = '?',
  desc = 'Sign in to a model provider (Qwen OAuth or an API key)',
  complete = function(arglead)
    return require('qwen.auth').complete(arglead)
  end,
})

command('QwenSignOut', function()
  qwen().sign_out()
end, { nargs = 0, desc = 'Sign out (removes the cached Qwen token and in-memory keys)' })

command('QwenModel', function(o)
  qwen().select_model(o.fargs[1])
end, {
  nargs = '?',
  desc = 'Pick the model (or switch to the given model id)',
  complete = function(arglead)
    return require('qwen.models').complete(arglead)
  end,
})

command('QwenStatus', function()
  qwen().show_config()
end, { nargs = 0, desc = 'Show status and the effective configuration' })

command('QwenConfig', function()
  qwen().show_config()
end, { nargs = 0, desc = 'Show the effective configuration with sources' })

command('QwenInline', function(o)
  qwen().ensure_setup()
  local arg = o.fargs[1]
  local on = nil
  if arg == 'on' or arg == 'enable' then
    on = true
  elseif arg == 'off' or arg == 'disable' then
    on = false
  end
  require('qwen.inline').set_enabled(on)
end, {
  nargs = '?',
  desc = 'Turn inline suggestions on, off or toggle them',
  complete = function()
    return { 'on', 'off', 'toggle' }
  end,
})
