-- qwen.nvim: Neovim client for qwen-lsp (sign-in, model switching, inline completions).
local config = require('qwen.config')

--- The public API: require('qwen').
---@class qwen
local M = {}

local augroup

local function attach_autocmds()
  local client_mod = require('qwen.client')
  augroup = vim.api.nvim_create_augroup('qwen', { clear = true })
  if config.options.auto_attach then
    vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile', 'FileType', 'BufEnter' }, {
      group = augroup,
      callback = function(ev)
        if not client_mod.attachable(ev.buf) then
          return
        end
        if #vim.lsp.get_clients({ name = client_mod.NAME, bufnr = ev.buf }) > 0 then
          return
        end
        -- Reading a buffer again (:e!) is a deliberate retry: say again why it fails.
        local read = ev.event == 'BufReadPost' or ev.event == 'BufNewFile'
        local again = read and vim.b[ev.buf].qwen_read == true
        vim.b[ev.buf].qwen_read = vim.b[ev.buf].qwen_read or read
        client_mod.start(ev.buf, again, not read)
      end,
    })
  end
  vim.api.nvim_create_autocmd('LspAttach', {
    group = augroup,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if not client or client.name ~= client_mod.NAME then
        return
      end
      require('qwen.inline').attach(ev.buf, client)
      if config.options.on_attach then
        config.options.on_attach(client, ev.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = augroup,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == client_mod.NAME then
        require('qwen.inline').detach(ev.buf)
      end
    end,
  })
end

--- Configure the plugin and start the server for file buffers. Safe to call again.
---@param opts qwen.Options|nil see :help qwen-options
function M.setup(opts)
  config.setup(opts)
  attach_autocmds()
  require('qwen.status').setup_notifications()
  local inline = require('qwen.inline')
  inline.enabled = config.options.inline.enabled ~= false
  if inline.enabled then
    inline.setup_keymaps()
  end
  -- Buffers already loaded (setup() from a lazy-loaded plugin); in init.lua there are none yet
  -- and the autocommands above attach `nvim file` once its buffer is read.
  require('qwen.client').attach_loaded()
end

--- setup() with defaults unless the user already called it.
function M.ensure_setup()
  if not config.did_setup then
    M.setup({})
  end
end

--- Short text for a statusline ('' until a server reports); usable as a lualine component.
---@return string
function M.statusline()
  local status = require('qwen.status')
  return status.text(status.get(vim.api.nvim_get_current_buf()))
end

--- The latest qwen/status for the current buffer: {state, authType, model, message, problems,
--- lastError} or nil.
---@return qwen.Status|nil
function M.status()
  return require('qwen.status').get(vim.api.nvim_get_current_buf())
end

--- Sign in (qwen/auth): nil = pick a provider, else a method or catalogue provider id.
---@param method string|nil
function M.sign_in(method)
  M.ensure_setup()
  require('qwen.auth').sign_in(method)
end

--- Sign out (qwen/signOut).
function M.sign_out()
  M.ensure_setup()
  require('qwen.auth').sign_out()
end

--- Select a model (qwen/selectModel): nil = pick from the list, 'refresh' = pick from a fresh
--- listing, else a model id.
---@param id string|nil
function M.select_model(id)
  M.ensure_setup()
  if id == 'refresh' then
    require('qwen.models').pick(true)
  elseif id then
    require('qwen.models').select(id)
  else
    require('qwen.models').pick()
  end
end

--- The effective configuration with sources (qwen/config) in a scratch buffer.
function M.show_config()
  M.ensure_setup()
  require('qwen.info').open()
end

--- What runs and how it is doing: server, sign-in, model, problems, last error.
function M.show_status()
  M.ensure_setup()
  require('qwen.info').open_status()
end

--- Build (or update) the private server install (see :QwenInstall).
---@param opts table|nil
function M.install(opts)
  M.ensure_setup()
  return require('qwen.install').run(opts)
end

--- Send any qwen/* request: cb(err, result).
---@param method string
---@param params table|nil
---@param cb fun(err: table|nil, result: any)|nil
function M.request(method, params, cb)
  M.ensure_setup()
  require('qwen.client').request(method, params, function(err, result)
    if cb then
      cb(err, result)
    end
  end)
end

return M
