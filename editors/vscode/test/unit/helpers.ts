// Test helpers: loopback fakes from the repo (tests/fakes), a temp Qwen home per test, an
// ExtensionContext with in-memory SecretStorage / Memento, and bounded waits.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';

export const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');

export async function waitFor<T>(pred: () => T | Promise<T>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await pred();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (${last})` : ''}`);
}

export interface Fake {
  url: string;
  proc: cp.ChildProcess;
  stop(): void;
}

/** `python -m tests.fakes.<module> --port 0 ...`; the first stdout line is its port or base URL. */
export function startFake(module: string, args: string[] = []): Promise<Fake> {
  const python = process.env.PYTHON || 'python';
  const proc = cp.spawn(python, ['-m', `tests.fakes.${module}`, '--port', '0', ...args], {
    cwd: repoRoot,
    env: { ...process.env, PYTHONPATH: repoRoot },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${module} did not start in 20 s: ${err}`)), 20000);
    proc.on('exit', (c) => reject(new Error(`${module} exited with ${c}: ${err}`)));
    readline.createInterface({ input: proc.stdout! }).once('line', (line) => {
      clearTimeout(t);
      const l = line.trim();
      const url = /^\d+$/.test(l) ? `http://127.0.0.1:${l}` : l;
      resolve({ url, proc, stop: () => proc.kill('SIGTERM') });
    });
  });
}

export async function http(url: string, body?: unknown): Promise<any> {
  const r = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${url}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const ENV_KEYS = ['HOME', 'QWEN_HOME', 'QWEN_OAUTH_BASE_URL', 'FAKE_KEY', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'OPENAI_MODEL', 'QWEN_CODE_SYSTEM_SETTINGS_PATH', 'DEBIAN_FRONTEND', 'QWEN_LSP_PRESET_BASE_URLS', 'XDG_RUNTIME_DIR', 'QWEN_LSP_DAEMON_IDLE_TIMEOUT'];

/** A fresh HOME + QWEN_HOME (with settings.json) and a process environment the server inherits. */
export function tempHome(settings: unknown, env: Record<string, string | undefined> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen-vscode-unit-'));
  const qwenHome = path.join(dir, '.qwen');
  fs.mkdirSync(qwenHome, { recursive: true });
  fs.writeFileSync(path.join(qwenHome, 'settings.json'), JSON.stringify(settings, null, 2));
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
  process.env.HOME = dir;
  process.env.QWEN_HOME = qwenHome;
  process.env.QWEN_CODE_SYSTEM_SETTINGS_PATH = path.join(dir, 'no-system-settings.json');
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
  return {
    dir,
    qwenHome,
    restore() {
      for (const k of ENV_KEYS) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export class MemorySecrets {
  readonly data = new Map<string, string>();
  async get(k: string) {
    return this.data.get(k);
  }
  async store(k: string, v: string) {
    this.data.set(k, v);
  }
  async delete(k: string) {
    this.data.delete(k);
  }
  onDidChange = () => ({ dispose() {} });
}

export class MemoryMemento {
  readonly data = new Map<string, unknown>();
  get<T>(k: string, d?: T): T | undefined {
    return (this.data.has(k) ? this.data.get(k) : d) as T | undefined;
  }
  async update(k: string, v: unknown) {
    if (v === undefined) this.data.delete(k);
    else this.data.set(k, v);
  }
  keys() {
    return [...this.data.keys()];
  }
  setKeysForSync() {}
}

export function fakeContext(secrets = new MemorySecrets(), globalState = new MemoryMemento()): any {
  return { subscriptions: [], secrets, globalState, workspaceState: new MemoryMemento(), extensionPath: path.resolve(__dirname, '..', '..') };
}

export function openaiSettings(upstream: string, selected = 'openai') {
  return {
    modelProviders: {
      openai: [
        { id: 'fake-model', name: 'Fake', envKey: 'FAKE_KEY', baseUrl: `${upstream}/v1` },
        { id: 'fake-model-2', name: 'Fake Two', envKey: 'FAKE_KEY', baseUrl: `${upstream}/v1` },
      ],
      anthropic: [{ id: 'claude-nokey', name: 'Claude Without Key', envKey: 'QWEN_UNIT_UNSET_KEY', baseUrl: upstream }],
    },
    security: { auth: { selectedType: selected } },
  };
}
