#!/usr/bin/env node
// Checks that every Lua file of the Neovim plugin is formatted as stylua.toml says, with
// stylua's wasm build (npm @johnnymorganz/stylua: no native binary, works offline once
// installed by `npm ci` here).
//   node tools/stylua-check.mjs          exit 1 listing the files that are not formatted
//   node tools/stylua-check.mjs --write  reformat them
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as stylua from '@johnnymorganz/stylua';

const PLUGIN = join(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'tools', '.git']);

// stylua.toml value -> the wasm build's enum; only the keys this project sets are supported,
// so a new key fails loudly instead of being ignored.
const ENUMS = {
  line_endings: stylua.LineEndings,
  indent_type: stylua.IndentType,
  quote_style: stylua.QuoteStyle,
  call_parentheses: stylua.CallParenType,
  collapse_simple_statement: stylua.CollapseSimpleStatement,
  syntax: stylua.LuaVersion,
};
const NUMBERS = new Set(['column_width', 'indent_width']);

/** The settings of stylua.toml, checked. */
export function readSettings(path = join(PLUGIN, 'stylua.toml')) {
  const settings = {};
  for (const [n, raw] of readFileSync(path, 'utf8').split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const m = /^(\w+)\s*=\s*(?:"([^"]*)"|(\d+))$/.exec(line);
    if (!m) throw new Error(`${path}:${n + 1}: cannot read "${raw}" (only key = "Name" or key = number)`);
    const [, key, name, num] = m;
    if (NUMBERS.has(key) && num !== undefined) settings[key] = Number(num);
    else if (ENUMS[key] && name !== undefined && name in ENUMS[key]) settings[key] = ENUMS[key][name];
    else throw new Error(`${path}:${n + 1}: unsupported setting ${key} = ${name ?? num}`);
  }
  return settings;
}

// formatCode takes ownership of (frees) the Config it is given: one per call.
function makeConfig(settings) {
  return Object.assign(stylua.Config.new(), settings);
}

export function luaFiles(dir = PLUGIN) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...luaFiles(p));
    else if (e.name.endsWith('.lua')) out.push(p);
  }
  return out.sort();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const write = process.argv.includes('--write');
  const settings = readSettings();
  const files = luaFiles();
  if (files.length === 0) throw new Error(`no Lua files under ${PLUGIN}`);
  const bad = [];
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    let out;
    try {
      out = stylua.formatCode(src, makeConfig(settings), undefined, stylua.OutputVerification.Full);
    } catch (e) {
      console.error(`${relative(PLUGIN, f)}: stylua cannot format it: ${e}`);
      process.exitCode = 1;
      continue;
    }
    if (out === src) continue;
    bad.push(relative(PLUGIN, f));
    if (write) writeFileSync(f, out);
  }
  if (write) {
    console.log(bad.length ? `reformatted: ${bad.join(' ')}` : `${files.length} files already formatted`);
  } else if (bad.length) {
    console.error(`not formatted as stylua.toml says (run: node editors/nvim/tools/stylua-check.mjs --write):`);
    for (const b of bad) console.error(`  ${b}`);
    process.exitCode = 1;
  } else {
    console.log(`stylua: ${files.length} files formatted`);
  }
}
