#!/usr/bin/env node
// Generates src/protocol.generated.ts (the params types of the custom requests and commands)
// from docs/protocol.schema.json, which the server generates from its own parameter models:
// the extension cannot send a field the server does not know, nor miss one it added.
//   node scripts/gen-protocol.mjs          write src/protocol.generated.ts
//   node scripts/gen-protocol.mjs --check  exit 1 when the committed file is stale
// test/unit/protocolSchema.test.ts runs the same check under vitest.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_PATH = join(EXT_DIR, '..', '..', 'docs', 'protocol.schema.json');
export const OUTPUT_PATH = join(EXT_DIR, 'src', 'protocol.generated.ts');

const REF = '#/$defs/';

const quote = (s) => `'${String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const key = (k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : quote(k));

/** The TypeScript type of a schema node; `optional` drops `null` (an absent field says it). */
function tsType(node, optional = false) {
  if (node.$ref) {
    if (!node.$ref.startsWith(REF)) throw new Error(`unsupported $ref ${node.$ref}`);
    return node.$ref.slice(REF.length);
  }
  if (node.anyOf) {
    const alts = node.anyOf.filter((a) => !(optional && a.type === 'null'));
    const types = [...new Set(alts.map((a) => tsType(a)))];
    return types.join(' | ');
  }
  if (node.enum) return node.enum.map((v) => (typeof v === 'string' ? quote(v) : JSON.stringify(v))).join(' | ');
  if (node.const !== undefined) return typeof node.const === 'string' ? quote(node.const) : JSON.stringify(node.const);
  switch (node.type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array': {
      if (node.prefixItems) {
        // optional trailing arguments: [] | [a] | [a, b] ...
        const items = node.prefixItems.map((i) => tsType(i));
        const tuples = items.map((_, n) => `[${items.slice(0, n + 1).join(', ')}]`);
        return ['[]', ...tuples].join(' | ');
      }
      const item = node.items ? tsType(node.items) : 'unknown';
      return /[|&]/.test(item) ? `(${item})[]` : `${item}[]`;
    }
    case 'object':
      if (node.properties) return inlineObject(node);
      return 'Record<string, unknown>';
    default:
      throw new Error(`unsupported schema node ${JSON.stringify(node)}`);
  }
}

function fields(node, indent) {
  const required = new Set(node.required ?? []);
  const lines = [];
  for (const [name, prop] of Object.entries(node.properties ?? {})) {
    const opt = !required.has(name);
    const notes = [prop.description, prop.default !== undefined && prop.default !== null ? `default: ${JSON.stringify(prop.default)}` : '']
      .filter(Boolean)
      .join('; ');
    if (notes) lines.push(`${indent}/** ${notes} */`);
    lines.push(`${indent}${key(name)}${opt ? '?' : ''}: ${tsType(prop, opt)};`);
  }
  return lines;
}

function inlineObject(node) {
  return `{ ${fields(node, '').join(' ')} }`;
}

/** The whole file, from the parsed schema. */
export function render(schema) {
  const out = [
    '// Generated from docs/protocol.schema.json by scripts/gen-protocol.mjs (`npm run gen:protocol`);',
    '// do not edit. The schema is generated from the server: `python -m qwen_lsp.schema`.',
    '',
  ];
  for (const [name, def] of Object.entries(schema.$defs)) {
    if (def.description) out.push(`/** ${def.description} */`);
    const body = fields(def, '  ');
    if (body.length === 0) {
      out.push(`export type ${name} = Record<string, never>;`, '');
      continue;
    }
    out.push(`export interface ${name} {`, ...body, '}', '');
  }
  const methods = Object.entries(schema.properties).filter(([, v]) => v.$ref);
  const commands = Object.entries(schema.properties).filter(([, v]) => v.type === 'array');
  out.push('/** Params of each custom request, by method name. */', 'export interface RequestParams {');
  for (const [m, v] of methods) out.push(`  ${quote(m)}: ${tsType(v)};`);
  out.push('}', '', '/** `workspace/executeCommand` arguments of each command, by command name. */');
  out.push('export interface CommandArguments {');
  for (const [c, v] of commands) out.push(`  ${quote(c)}: ${tsType(v)};`);
  out.push('}', '');
  return out.join('\n');
}

export function generate() {
  return render(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = generate();
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(OUTPUT_PATH, 'utf8');
    } catch {
      // a missing file is stale too
    }
    if (committed !== text) {
      console.error('src/protocol.generated.ts is out of date with docs/protocol.schema.json: run `npm run gen:protocol`');
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT_PATH, text);
  }
}
