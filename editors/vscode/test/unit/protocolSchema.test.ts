// The extension's params types must say what the server validates: src/protocol.generated.ts is
// generated from docs/protocol.schema.json (itself generated from the server) and must be fresh.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generate, OUTPUT_PATH, render, SCHEMA_PATH } from '../../scripts/gen-protocol.mjs';
import { Methods } from '../../src/protocol';

const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8'));

describe('protocol types generated from docs/protocol.schema.json', () => {
  it('src/protocol.generated.ts is up to date (else: npm run gen:protocol)', () => {
    const committed = readFileSync(OUTPUT_PATH, 'utf8');
    expect(committed, 'src/protocol.generated.ts is stale: run `npm run gen:protocol` in editors/vscode').toBe(generate());
  });

  it('has every property of every params object, with its optionality', () => {
    const text = generate();
    for (const [name, def] of Object.entries<{ properties?: Record<string, unknown>; required?: string[] }>(schema.$defs)) {
      const required = new Set(def.required ?? []);
      for (const prop of Object.keys(def.properties ?? {})) {
        const body = text.slice(text.indexOf(`export interface ${name} {`));
        const decl = body.slice(0, body.indexOf('\n}'));
        expect(decl, `${name}.${prop}`).toContain(`\n  ${prop}${required.has(prop) ? '' : '?'}: `);
      }
    }
  });

  it('changes when the schema loses a field (the check can fail)', () => {
    const trimmed = structuredClone(schema);
    delete trimmed.$defs.CompleteParams.properties.partialResultToken;
    expect(render(trimmed)).not.toBe(generate());
    expect(render(trimmed)).not.toContain('partialResultToken');
  });

  it('Methods names every custom request of the schema and nothing the server does not register', () => {
    const custom = Object.keys(schema.properties).filter((m) => m.startsWith('qwen/'));
    const ours = Object.values(Methods).filter((m) => m.startsWith('qwen/') && m !== Methods.status);
    expect(new Set(ours)).toEqual(new Set(custom));
  });
});
