// One mocked `vscode` module for the whole run, seen both by our TypeScript sources (vi.mock) and by
// the real vscode-languageclient in node_modules, which `require('vscode')` through Node's CJS
// loader (hooked below). jest-mock-vscode covers most of the API; the rest is filled here.
import Module, { createRequire } from 'module';
import * as path from 'path';
import { vi } from 'vitest';
import { createVSCodeMock } from 'jest-mock-vscode';
import { createVscode } from './vscodeMock';

const vscode = createVscode(createVSCodeMock(vi), vi);
(globalThis as any).__vscodeMock = vscode;

const require = createRequire(import.meta.url);
const fake = path.join(__dirname, '__vscode_mock__.js');
require.cache[fake] = { id: fake, filename: fake, loaded: true, exports: vscode } as any;
const M = Module as any;
if (!M.__qwenHooked) {
  const orig = M._resolveFilename;
  M._resolveFilename = function (req: string, ...rest: unknown[]) {
    return req === 'vscode' ? fake : orig.call(this, req, ...rest);
  };
  M.__qwenHooked = true;
}

vi.mock('vscode', () => (globalThis as any).__vscodeMock);
