-- User commands for qwen.nvim: `:Qwen {subcommand}` and the older :Qwen* names as aliases.
-- Everything else loads on first use.
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

local function inline(arg)
  qwen().ensure_setup()
  local on = nil
  if arg == 'on' or arg == 'enable' then
    on = true
  elseif arg == 'off' or arg == 'disable' then
    on = false
  end
  require('qwen.inline').set_enabled(on)
end

---@class qwen.Subcommand
---@field run fun(arg: string|nil, bang: boolean, args: string[])
---@field complete (fun(arglead: string): string[])|nil
---@field desc string

---@type table<string, qwen.Subcommand>
local subcommands = {
  signin = {
    desc = 'Sign in to a provider of the catalogue: Qwen OAuth or an API key ([provider [region]])',
    run = function(_, _, args)
      qwen().sign_in(table.concat(args, ' '))
    end,
    complete = function(arglead)
      return require('qwen.auth').complete(arglead)
    end,
  },
  signout = {
    desc = 'Sign out (removes the cached Qwen token and in-memory keys)',
    run = function()
      qwen().sign_out()
    end,
  },
  model = {
    desc = "Pick the model, switch to the given model id, or `refresh` the endpoints' listings",
    run = function(arg)
      qwen().select_model(arg)
    end,
    complete = function(arglead)
      return require('qwen.models').complete(arglead)
    end,
  },
  status = {
    desc = 'Show which server runs, the sign-in state, the model, problems and the last error',
    run = function()
      qwen().show_status()
    end,
  },
  config = {
    desc = 'Show the effective configuration, each value with its source',
    run = function()
      qwen().show_config()
    end,
  },
  inline = {
    desc = 'Turn inline suggestions on, off or toggle them',
    run = inline,
    complete = function()
      return { 'on', 'off', 'toggle' }
    end,
  },
  install = {
    desc = 'Install or update the private qwen-lsp server (! waits until it is done)',
    run = function(_, bang)
      qwen().install({ wait = bang })
    end,
  },
  health = {
    desc = 'Run :checkhealth qwen',
    run = function()
      vim.cmd('checkhealth qwen')
    end,
  },
}

local names = vim.tbl_keys(subcommands)
table.sort(names)

local function filter(list, arglead)
  return vim.tbl_filter(function(s)
    return vim.startswith(s, arglead or '')
  end, list)
end

local command = vim.api.nvim_create_user_command

command('Qwen', function(o)
  local name = o.fargs[1]
  local sub = name and subcommands[name]
  if not sub then
    local msg = name and ('Unknown subcommand %q. '):format(name) or ''
    vim.notify(
      ('%sUse :Qwen {%s}'):format(msg, table.concat(names, '|')),
      name and vim.log.levels.ERROR or vim.log.levels.INFO,
      { title = 'Qwen' }
    )
    return
  end
  sub.run(o.fargs[2], o.bang, vim.list_slice(o.fargs, 2))
end, {
  nargs = '*',
  bang = true,
  desc = 'Qwen: ' .. table.concat(names, ', '),
  complete = function(arglead, cmdline)
    local rest = cmdline:gsub('^%s*%S+!?%s*', '')
    local args = vim.split(rest, '%s+', { trimempty = false })
    if #args <= 1 then
      return filter(names, arglead)
    end
    local sub = subcommands[args[1]]
    if #args == 2 and sub and sub.complete then
      return sub.complete(arglead)
    end
    return {}
  end,
})

-- The older command names, kept as aliases.
local aliases = {
  QwenSignIn = 'signin',
  QwenSignOut = 'signout',
  QwenModel = 'model',
  QwenStatus = 'status',
  QwenConfig = 'config',
  QwenInline = 'inline',
  QwenInstall = 'install',
}
for alias, name in pairs(aliases) do
  local sub = subcommands[name]
  command(alias, function(o)
    sub.run(o.fargs[1], o.bang, o.fargs)
  end, {
    nargs = sub.complete and '?' or 0,
    bang = name == 'install',
    desc = sub.desc,
    complete = sub.complete and function(arglead)
      return sub.complete(arglead)
    end or nil,
  })
end
