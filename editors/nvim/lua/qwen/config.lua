-- Options: defaults, validation and the merged result of setup().

---@class qwen.config
---@field defaults qwen.Options
---@field options qwen.Options  the merged result of the last setup()
---@field did_setup boolean
local M = {}

---@class qwen.InlineKeymaps
---@field accept string|false        accept the whole suggestion
---@field accept_word string|false   accept up to the end of the next word
---@field accept_line string|false   accept up to the end of the current line
---@field dismiss string|false       hide the suggestion
---@field trigger string|false       ask for a suggestion now

---@class qwen.InlineOptions
---@field enabled boolean|nil
---@field debounce integer|nil      ms after the last keystroke
---@field native boolean|nil        use vim.lsp.inline_completion when Neovim has it (0.12+)
---@field hl_group string|nil
---@field filetypes string[]|nil    nil = every attached buffer
---@field keymaps qwen.InlineKeymaps|nil

---@class qwen.Options
---@field cmd string[]|string|(fun(dispatchers: table): table)|nil  server command; nil = qwen-lsp on PATH, else the :QwenInstall one
---@field shared boolean|'shim'|nil  one daemon for all Neovims: true = connect to its socket, 'shim' = through `qwen-lsp attach`; cmd is used as written
---@field cmd_env table<string, string>|nil
---@field python string|nil         Python 3.11+ that :QwenInstall builds the server with
---@field root_markers string[]|nil
---@field model string|nil
---@field auth_type string|nil
---@field openai_api_key string|nil
---@field openai_base_url string|nil
---@field workspace_trusted boolean|(fun(root: string): boolean)|nil
---@field auto_attach boolean|nil
---@field filetypes string[]|nil
---@field exclude_filetypes string[]|nil
---@field opener false|string[]|(fun(url: string): any)|nil
---@field copy_code boolean|nil
---@field remember boolean|nil    keep a sign-in with an API key for the next start (qwen/auth persist)
---@field key_store 'dotenv'|'settings'|nil  where a remembered key is saved
---@field secret_input (fun(opts: table, on_confirm: fun(value: string|nil)))|nil
---@field inline qwen.InlineOptions|boolean|nil
---@field statusline {format: (fun(status: qwen.Status|nil): string)|nil}|nil
---@field on_attach (fun(client: table, bufnr: integer))|nil
---@field log_level integer|nil

---@type qwen.Options
M.defaults = {
  -- How to start the server: a list (argv) or a function(dispatchers) as vim.lsp.start accepts.
  -- nil = `qwen-lsp` on PATH, else the private install made by :QwenInstall.
  cmd = nil,
  -- Every Neovim (and VS Code window) is a session of one per-user daemon, so a new one is
  -- served in milliseconds: true = Neovim connects to the daemon's socket itself (no process
  -- per Neovim), 'shim' = through a `qwen-lsp attach` process, false = a standalone server per
  -- Neovim. Not used with `cmd` (run as written) or on Windows.
  shared = true,
  -- Python 3.11+ for :QwenInstall (nil = the newest python3.x on PATH).
  python = nil,
  -- Extra environment for the server process.
  cmd_env = nil,
  -- Files/directories that mark a workspace root (first match walking up from the buffer).
  root_markers = { '.qwen', '.git' },
  -- initializationOptions (nil = let the server resolve it from settings/env).
  model = nil,
  auth_type = nil,
  openai_api_key = nil,
  openai_base_url = nil,
  -- true/false, or function(root_dir) -> boolean; nil = let the server decide (folder trust).
  workspace_trusted = nil,
  -- Attach the server to normal file buffers automatically.
  auto_attach = true,
  -- Only these filetypes (nil = all) / never these filetypes.
  filetypes = nil,
  exclude_filetypes = { 'help', 'qf', 'netrw', 'gitcommit', 'gitrebase', 'TelescopePrompt' },
  -- Browser for sign-in: nil = vim.ui.open, false = never open (always show URL + code),
  -- a list = command to run with the URL appended, or function(url) returning
  -- true | false[, err] | vim.SystemObj (its exit code is checked).
  opener = nil,
  -- Copy the Qwen OAuth user code to the + register when a clipboard is available.
  copy_code = true,
  -- Remember a sign-in with an API key (qwen/auth `persist`): the key, the provider's models
  -- and the choice are saved the way the Qwen Code CLI's /auth saves them, so the next start
  -- (and the CLI) is signed in. false = this session only.
  remember = true,
  -- Where a remembered key goes: nil/'dotenv' = ~/.qwen/.env (mode 0600), 'settings' = `env`
  -- in ~/.qwen/settings.json (what the CLI's /auth does).
  key_store = nil,
  -- How to read an API key: nil = vim.fn.inputsecret (nothing is echoed), or a function with
  -- the signature of vim.ui.input (opts, on_confirm).
  secret_input = nil,
  -- Inline (ghost text) completions. `inline = false` turns them off.
  inline = {
    enabled = true,
    debounce = 75, -- ms after the last keystroke
    native = true, -- use vim.lsp.inline_completion when Neovim has it (0.12+)
    hl_group = 'QwenSuggestion',
    filetypes = nil, -- nil = every attached buffer
    keymaps = {
      accept = '<M-l>',
      accept_word = false,
      accept_line = false,
      dismiss = '<C-]>',
      trigger = '<M-\\>',
    },
  },
  -- statusline() customisation: function(status) -> string, status may be nil.
  statusline = { format = nil },
  -- Called as on_attach(client, bufnr) when the server attaches to a buffer.
  on_attach = nil,
  -- Show notifications at or above this level.
  log_level = vim.log.levels.INFO,
}

M.options = vim.deepcopy(M.defaults)
M.did_setup = false

local function normalize(opts)
  opts = opts or {}
  if opts.inline == true then
    opts.inline = { enabled = true }
  elseif opts.inline == false then
    opts.inline = { enabled = false }
  end
  if type(opts.cmd) == 'string' then
    opts.cmd = { opts.cmd }
  end
  return opts
end

--- Raises an error naming the option when a merged option has the wrong type.
---@param o qwen.Options
function M.validate(o)
  local function check(name, v, types)
    local ok = false
    for _, t in ipairs(types) do
      if type(v) == t then
        ok = true
      end
    end
    if not ok then
      error(('qwen.setup: option %q must be %s, got %s'):format(name, table.concat(types, '|'), type(v)), 3)
    end
  end
  check('cmd', o.cmd, { 'nil', 'table', 'function' })
  if o.shared ~= 'shim' then
    check('shared', o.shared, { 'boolean' })
  end
  check('python', o.python, { 'nil', 'string' })
  check('root_markers', o.root_markers, { 'table' })
  check('model', o.model, { 'nil', 'string' })
  check('auth_type', o.auth_type, { 'nil', 'string' })
  check('opener', o.opener, { 'nil', 'boolean', 'table', 'function' })
  check('workspace_trusted', o.workspace_trusted, { 'nil', 'boolean', 'function' })
  check('secret_input', o.secret_input, { 'nil', 'function' })
  check('remember', o.remember, { 'boolean' })
  if o.key_store ~= nil and o.key_store ~= 'dotenv' and o.key_store ~= 'settings' then
    error(('qwen.setup: key_store must be nil, "dotenv" or "settings", got %s'):format(vim.inspect(o.key_store)), 3)
  end
  check('inline', o.inline, { 'table' })
  check('on_attach', o.on_attach, { 'nil', 'function' })
  if o.opener == true then
    error('qwen.setup: opener must be nil, false, a command list or a function', 3)
  end
end

---@param opts qwen.Options|nil
---@return qwen.Options
function M.setup(opts)
  local merged = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), normalize(opts))
  -- Lists replace rather than merge element-wise.
  for _, k in ipairs({ 'cmd', 'root_markers', 'filetypes', 'exclude_filetypes', 'opener' }) do
    if opts and opts[k] ~= nil then
      merged[k] = opts[k]
    end
  end
  M.validate(merged)
  M.options = merged
  M.did_setup = true
  return merged
end

return M
