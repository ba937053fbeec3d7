-- qwen.nvim: Neovim client for qwen-lsp (sign-in, model switching, inline completions).
local config = require('qwen.config')

local M = {}

local augroup

local function attach_autocmds()
  local client_mod = require('qwen.client')
  augroup = vim.api.nvim_create_augroup('qwen', { clear = true })
  if config.options.auto_attach then
    vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile', 'FileType', 'BufEnter' }, {
      group = augroup,
      callback = function(ev)
        if client_mod.start_failed or not client_mod.attachable(ev.buf) then
          return
        end
        if #vim.lsp.get_clients({ name = client_mod.NAME, bufnr = ev.buf }) > 0 then
          return
        end
        client_mod.start(ev.buf)
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
---@param opts table|nil see :help qwen-options
function M.setup(opts)
  config.setup(opts)
  require('qwen.client').start_failed = nil
  attach_autocmds()
  local inline = require('qwen.inline')
  inline.enabled = config.options.inline.enabled ~= false
  if inline.enabled then
    inline.setup_keymaps()
  end
  if config.options.auto_attach then
    local client_mod = require('qwen.client')
    local buf = vim.api.nvim_get_current_buf()
    if client_mod.attachable(buf) then
      client_mod.start(buf)
    end
  end
end

--- setup() with defaults unless the user already called it.
function M.ensure_setup()
  if not config.did_setup then
    M.setup({})
  end
end

--- Short text for a statusline ('' until a server reports); usable as a lualine component.
function M.statusline()
  local status = require('qwen.status')
  return status.text(status.get(vim.api.nvim_get_current_buf()))
end

--- The latest qwen/status for the current buffer: {state, authType, model, message} or nil.
function M.status()
  return require('qwen.status').get(vim.api.nvim_get_current_buf())
end

function M.sign_in(method)
  M.ensure_setup()
  require('qwen.auth').sign_in(method)
end

function M.sign_out()
  M.ensure_setup()
  require('qwen.auth').sign_out()
end

function M.select_model(id)
  M.ensure_setup()
  if id then
    require('qwen.models').select(id)
  else
    require('qwen.models').pick()
  end
end

function M.show_config()
  M.ensure_setup()
  require('qwen.info').open()
end

--- Send any qwen/* request: cb(err, result).
function M.request(method, params, cb)
  M.ensure_setup()
  require('qwen.client').request(method, params, function(err, result)
    if cb then
      cb(err, result)
    end
  end)
end

return M
