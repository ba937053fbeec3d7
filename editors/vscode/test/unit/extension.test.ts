// The extension's glue driven through jest-mock-vscode, with the REAL vscode-languageclient and the
// REAL `qwen-lsp` from PATH (given as qwen.server.command: the bundled server is what the
// code-server end-to-end test runs), against the repo's loopback fakes (tests/fakes).
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, onTestFinished, test, vi } from 'vitest';
import * as vscode from 'vscode';
import { QwenExtension } from '../../src/extension';
import { QwenInlineCompletionProvider } from '../../src/inline';
import { dialogsOf, settingsOf, workspaceSettingsOf } from './vscodeMock';
import { Fake, fakeContext, http, MemoryMemento, MemorySecrets, openaiSettings, startFake, tempHome, waitFor } from './helpers';

const GHOST = 'return 42  # from the fake';
const mock = vscode as any;
const dialogs = dialogsOf(mock);
const settings = settingsOf(mock);
const workspaceSettings = workspaceSettingsOf(mock);
let qwenLsp = '';

let upstream: Fake;
let oauth: Fake;
let home: ReturnType<typeof tempHome>;
const running: QwenExtension[] = [];

beforeAll(async () => {
  const which = cp.spawnSync('sh', ['-c', 'command -v qwen-lsp'], { encoding: 'utf8' });
  if (which.status !== 0) throw new Error('qwen-lsp is not on PATH (put the repo .venv/bin first on PATH)');
  qwenLsp = which.stdout.trim();
  [upstream, oauth] = await Promise.all([startFake('llm_upstream'), startFake('oauth_server', ['--interval', '1'])]);
});
afterAll(() => {
  upstream?.stop();
  oauth?.stop();
});

beforeEach(async () => {
  dialogs.quickPick = undefined;
  dialogs.createQuickPick = undefined;
  dialogs.inputs = [];
  dialogs.button = () => undefined;
  dialogs.shown.length = 0;
  dialogs.itemButton = [];
  dialogs.cancelProgress = undefined;
  for (const k of Object.keys(settings)) delete settings[k];
  for (const k of Object.keys(workspaceSettings)) delete workspaceSettings[k];
  settings['qwen.server.command'] = qwenLsp;
  mock.workspace.isTrusted = true;
  vi.clearAllMocks();
  await http(`${upstream.url}/_fake/reset`, {});
  await http(`${upstream.url}/_fake/config`, { valid_keys: null });
  await http(`${upstream.url}/_fake/script`, { route: 'chat', behaviours: Array.from({ length: 50 }, () => ({ text: GHOST })) });
});
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') for (const e of running) console.log((e.log as any).lines?.slice(-40).join('\n'));
  try {
    await Promise.all(running.splice(0).map((e) => e.dispose()));
  } finally {
    home?.restore();
  }
});

async function start(context = fakeContext()): Promise<QwenExtension> {
  const ext = new QwenExtension(context);
  running.push(ext);
  await ext.activate();
  return ext;
}

const statusItem = () => {
  const results = (mock.window.createStatusBarItem as any).mock.results;
  return results[results.length - 1].value as vscode.StatusBarItem;
};
const waitState = (ext: QwenExtension, state: string, ms = 15000) =>
  waitFor(() => ext.status?.state === state, ms, `qwen/status ${state} (last: ${JSON.stringify(ext.status)})`);
// completions only: the server also lists models on the same endpoint (discovery, in the background)
const chatRequests = async (): Promise<any[]> => (await http(`${upstream.url}/_fake/requests`)).filter((r: any) => r.route === 'chat');
const lastRequest = async () => {
  const reqs = await chatRequests();
  return reqs[reqs.length - 1];
};
const authHeader = (r: any) => String(Object.entries(r?.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1] ?? '');

describe('server start and status bar', () => {
  test('the qwen.authType setting offers exactly the authMethods of a real initialize', async () => {
    home = tempHome({});
    const ext = await start();
    await waitState(ext, 'needsAuth');
    const prop = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')).contributes.configuration.properties['qwen.authType'];
    const methods = ext.capabilities.authMethods ?? [];
    expect(methods.length).toBeGreaterThan(0);
    // the order and labels the extension uses are the server's catalogue, as announced
    expect(ext.authTypes()).toEqual(ext.capabilities.authTypes);
    expect(ext.authTypes().map((a) => a.id)).toEqual(methods);
    expect(ext.authTypes().every((a) => a.label.length > 0)).toBe(true);
    // "" = no preference; a settings schema cannot be dynamic, so it must be kept in step by hand
    expect(prop.enum).toEqual(['', ...methods]);
    expect(prop.enumDescriptions).toHaveLength(prop.enum.length);
  });

  test('starts qwen-lsp from PATH with initializationOptions; the status bar follows qwen/status', async () => {
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111' });
    settings['qwen.model'] = 'fake-model-2';
    mock.workspace.isTrusted = false;
    const ext = await start();
    await waitState(ext, 'ready');
    expect(statusItem().text).toBe('$(sparkle) Fake Two');
    expect((statusItem().tooltip as any).value).toContain('Provider: OpenAI-compatible');
    expect(statusItem().command).toBe('qwen.selectModel');
    expect(ext.capabilities.authMethods).toEqual(expect.arrayContaining(['qwen-oauth', 'openai']));
    // the server also offers qwen.signIn etc. as LSP commands: only the extension's own are registered
    const ids = (mock.commands.registerCommand as any).mock.calls.map((c: any[]) => c[0]);
    expect(ids.filter((i: string) => i === 'qwen.signIn')).toHaveLength(1);
    // workspaceTrusted went to the server
    const cfg = await ext.client!.sendRequest<any>('qwen/config', {});
    expect(cfg.workspaceTrusted.value).toBe(false);

    // a change of model is shown from qwen/status alone
    await ext.selectModel('claude-nokey');
    await waitState(ext, 'needsAuth');
    expect(statusItem().text).toBe('$(key) Claude Without Key: needs sign-in');
    expect((statusItem().tooltip as any).value).toContain('Provider: Anthropic');
    expect((statusItem().tooltip as any).value).toContain('QWEN_UNIT_UNSET_KEY');
    expect(dialogs.shown.some((n) => n.severity === 'warning' && /no credentials/.test(n.message) && n.buttons.includes('Sign in'))).toBe(true);
  });

  test('Restricted Mode: qwen.server.command from User settings applies, the workspace value is refused', async () => {
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111' });
    const wrapper = (name: string) => {
      const f = path.join(home.dir, `${name}.sh`);
      fs.writeFileSync(f, `#!/bin/sh\ntouch '${f}.ran'\nexec '${qwenLsp}' "$@"\n`, { mode: 0o755 });
      return f;
    };
    const user = wrapper('user');
    const ws = wrapper('workspace');
    settings['qwen.server.command'] = user;
    workspaceSettings['qwen.server.command'] = ws;
    mock.workspace.isTrusted = false;
    const ext = await start();
    await waitState(ext, 'ready');
    expect(fs.existsSync(`${user}.ran`)).toBe(true);
    expect(fs.existsSync(`${ws}.ran`)).toBe(false);
    expect((ext.log as any).lines.join('\n')).toContain("the workspace's qwen.server.command is ignored in Restricted Mode");
    await ext.dispose();

    // once the workspace is trusted its value applies
    mock.workspace.isTrusted = true;
    const ext2 = await start();
    await waitState(ext2, 'ready');
    expect(fs.existsSync(`${ws}.ran`)).toBe(true);
  });

  test('a build without bundled server and no qwen.server.command: one actionable message', async () => {
    home = tempHome({});
    delete settings['qwen.server.command'];
    const ctx = fakeContext();
    ctx.extensionPath = home.dir; // no bundled/ here
    const ext = await start(ctx);
    expect(ext.client).toBeUndefined();
    const err = dialogs.shown.find((n) => n.severity === 'error')!;
    expect(err.message).toContain('carries no qwen-lsp server');
    expect(err.message).toContain('qwen.server.command');
    expect(err.message).not.toMatch(/pip install/);
    expect(statusItem().text).toBe('$(debug-disconnect) Qwen: stopped');
  });

  test('the bundled server: set up offline on the first start with a progress notification, reused on the next', async () => {
    const bundled = path.resolve(__dirname, '..', '..', 'bundled', 'manifest.json');
    if (!fs.existsSync(bundled)) throw new Error(`${bundled} is missing: run scripts/package.sh first (scripts/test.sh does)`);
    // the bundled server runs shared by default: a daemon of this test's own, stopped at the end
    const runtime = fs.mkdtempSync('/tmp/qv-');
    home = tempHome({}, { XDG_RUNTIME_DIR: runtime, QWEN_LSP_DAEMON_IDLE_TIMEOUT: '30' });
    onTestFinished(() => {
      cp.spawnSync(qwenLsp, ['daemon', '--stop'], { env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
      fs.rmSync(runtime, { recursive: true, force: true });
    });
    delete settings['qwen.server.command'];
    const ctx = fakeContext();
    ctx.globalStorageUri = vscode.Uri.file(path.join(home.dir, 'globalStorage'));
    const ext = await start(ctx);
    await waitState(ext, 'needsAuth', 120000);
    expect(fs.readdirSync(path.join(runtime, 'qwen-lsp')).some((f) => f.endsWith('.sock'))).toBe(true);
    const titles = () => (mock.window.withProgress as any).mock.calls.map((c: any[]) => c[0].title as string);
    expect(titles().filter((t: string) => t.startsWith('Qwen: setting up the qwen-lsp server'))).toHaveLength(1);
    const envs = fs.readdirSync(path.join(home.dir, 'globalStorage', 'server'));
    expect(envs).toEqual([expect.stringMatching(/^qwen-lsp-[\d.]+-py3\d+-[0-9a-f]{10}$/)]);
    const log = (ext.log as any).lines.join('\n');
    expect(log).toMatch(/bundled qwen-lsp [\d.]+ \(Python 3\.\d+\.\d+ from PATH.*, shared: connected to the per-user daemon directly on \S+\.sock$/m);
    await ext.dispose();

    const ext2 = await start(ctx);
    await waitState(ext2, 'needsAuth', 30000);
    expect(titles().filter((t: string) => t.startsWith('Qwen: setting up the qwen-lsp server'))).toHaveLength(1);
    expect(fs.readdirSync(path.join(home.dir, 'globalStorage', 'server'))).toEqual(envs);
  }, 180_000);

  test('a crashed server is restarted with a message, not silently', async () => {
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111' });
    const pidFile = path.join(home.dir, 'server.pid');
    const wrapper = path.join(home.dir, 'qwen-lsp-wrapper.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\necho $$ > '${pidFile}'\nexec '${qwenLsp}' "$@"\n`, { mode: 0o755 });
    settings['qwen.server.command'] = wrapper;
    const ext = await start();
    await waitState(ext, 'ready');
    const pid1 = Number(fs.readFileSync(pidFile, 'utf8'));
    fs.rmSync(pidFile);
    process.kill(pid1, 'SIGKILL');
    await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim(), 20000, 'a restarted server');
    expect(Number(fs.readFileSync(pidFile, 'utf8'))).not.toBe(pid1);
    expect(dialogs.shown.some((n) => n.severity === 'warning' && /stopped unexpectedly and was restarted/.test(n.message))).toBe(true);
    await waitState(ext, 'ready');
    expect(statusItem().text).toBe('$(sparkle) Fake');
  });
});

describe('shared server (qwen-lsp attach)', () => {
  // a runtime directory of the test's own (short: socket paths are limited to 107 bytes); its
  // daemon is stopped when the test ends
  let runtime = '';
  const daemon = (what: '--status' | '--stop') =>
    cp.spawnSync(qwenLsp, ['daemon', what], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
  beforeEach(() => {
    runtime = fs.mkdtempSync('/tmp/qv-');
  });
  afterEach(() => {
    daemon('--stop');
    fs.rmSync(runtime, { recursive: true, force: true });
  });

  test('`attach` in qwen.server.args runs the window as a session of the daemon', async () => {
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111', XDG_RUNTIME_DIR: runtime, QWEN_LSP_DAEMON_IDLE_TIMEOUT: '30' });
    settings['qwen.server.args'] = ['attach'];
    const ext = await start();
    await waitState(ext, 'ready');
    expect(statusItem().text).toBe('$(sparkle) Fake');
    const socket = fs.readdirSync(path.join(runtime, 'qwen-lsp')).find((f) => f.endsWith('.sock'));
    expect(socket).toBeDefined();
    const status = daemon('--status');
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/1 session\(s\)/);
    expect((ext.log as any).lines.join('\n')).toContain('shared (qwen-lsp attach)');
    await ext.dispose();
    await waitFor(() => /0 session\(s\)/.test(daemon('--status').stdout), 10000, 'the session to close with the window');
  });

  test('a shim that cannot reach the daemon: its message, the opt-out, and a standalone server once', async () => {
    const missing = path.join(runtime, 'gone'); // XDG_RUNTIME_DIR that does not exist
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111', XDG_RUNTIME_DIR: missing });
    settings['qwen.server.args'] = ['attach'];
    const ext = await start();
    await waitState(ext, 'ready', 30000);
    const warn = dialogs.shown.find((n) => n.severity === 'warning' && /shared qwen-lsp server could not start/.test(n.message));
    expect(warn, JSON.stringify(dialogs.shown)).toBeDefined();
    expect(warn!.message).toContain(`${missing} does not exist; set XDG_RUNTIME_DIR`);
    expect(warn!.message).toContain('remove "attach" from "qwen.server.args"');
    expect(warn!.buttons).toContain('Open Settings');
    expect(dialogs.shown.some((n) => /stopped unexpectedly/.test(n.message))).toBe(false);
    expect(fs.existsSync(missing)).toBe(false);
    const log = (ext.log as any).lines.join('\n');
    expect(log).toContain('standalone: the shared server could not start');
    // the standalone server is the same command without `attach`
    expect(log).toMatch(new RegExp(`starting .*standalone.*: ${qwenLsp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} *$`, 'm'));
  });
});

describe('direct connection to the daemon (the bundled server, by default)', () => {
  // one bundled environment for these tests (built by the first); a runtime directory per test
  let storage = '';
  let runtime = '';
  const daemon = (what: '--status' | '--stop') =>
    cp.spawnSync(qwenLsp, ['daemon', what], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
  const daemonPid = () => Number(/pid (\d+)/.exec(daemon('--status').stdout)?.[1] ?? 0);
  /** processes this test process (the "extension host") started that run `qwen_lsp attach` as a shim */
  const shimChildren = () =>
    fs.readdirSync('/proc').filter((d) => {
      if (!/^\d+$/.test(d)) return false;
      try {
        const ppid = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]);
        const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        return ppid === process.pid && argv.includes('attach') && !argv.includes('--ensure');
      } catch {
        return false;
      }
    });
  const bundledCtx = () => {
    const ctx = fakeContext();
    ctx.globalStorageUri = vscode.Uri.file(storage);
    return ctx;
  };
  beforeAll(() => {
    const bundled = path.resolve(__dirname, '..', '..', 'bundled', 'manifest.json');
    if (!fs.existsSync(bundled)) throw new Error(`${bundled} is missing: run scripts/package.sh first (scripts/test.sh does)`);
    storage = fs.mkdtempSync('/tmp/qvs-');
  });
  afterAll(() => fs.rmSync(storage, { recursive: true, force: true }));
  beforeEach(() => {
    runtime = fs.mkdtempSync('/tmp/qv-');
    delete settings['qwen.server.command'];
  });
  afterEach(() => {
    daemon('--stop');
    fs.rmSync(runtime, { recursive: true, force: true });
  });

  test("no shim: a session on the daemon's socket, with the window's environment and qwen.server.args; the trace hides them", async () => {
    const KEY = 'sk-unit-direct-only-in-the-host-7777';
    home = tempHome(openaiSettings(upstream.url), { XDG_RUNTIME_DIR: runtime, QWEN_LSP_DAEMON_IDLE_TIMEOUT: '30' });
    // the daemon runs already, started without the key: the session can only have it from the window
    const started = cp.spawnSync(qwenLsp, ['attach', '--ensure'], { encoding: 'utf8', env: { ...process.env } });
    expect(started.status, started.stderr).toBe(0);
    const pid = daemonPid();
    expect(fs.readFileSync(`/proc/${pid}/environ`, 'utf8')).not.toContain('FAKE_KEY=');
    process.env.FAKE_KEY = KEY;
    settings['qwen.server.args'] = ['--model', 'fake-model-2'];
    settings['qwen.trace.server'] = 'verbose';
    const ext = await start(bundledCtx());
    await waitState(ext, 'ready', 150000);
    // the launch flag reached the session: the model it names is the one in use
    expect(statusItem().text).toBe('$(sparkle) Fake Two');
    expect(daemonPid()).toBe(pid);
    expect(daemon('--status').stdout).toMatch(/ 1 session\(s\)/);
    expect(shimChildren()).toEqual([]);
    const log = (ext.log as any).lines.join('\n');
    expect(log).toMatch(/connected to the per-user daemon directly on \S+\.sock/);
    expect(log).not.toContain('qwen_lsp attach ');
    // the key from the window's environment is the one the session sends upstream
    await ext.client!.sendNotification('textDocument/didOpen', {
      textDocument: { uri: 'file:///tmp/qv-direct.py', languageId: 'python', version: 1, text: 'def answer():\n    ' },
    });
    const provider = (mock.languages.registerInlineCompletionItemProvider as any).mock.calls.at(-1)[1] as QwenInlineCompletionProvider;
    const tok = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    const items = await provider.provideInlineCompletionItems({ uri: vscode.Uri.file('/tmp/qv-direct.py') } as any, new vscode.Position(1, 4), { triggerKind: 0 } as any, tok as any);
    expect(items?.[0].insertText).toBe(GHOST);
    expect(authHeader(await lastRequest())).toBe(`Bearer ${KEY}`);
    // the verbose trace ran (initialize's params are in it) and shows no qwenSession value
    const after = (ext.log as any).lines.join('\n');
    expect(after).toContain("Sending request 'initialize");
    expect(after).toContain('"qwenSession": "(hidden');
    expect(after).not.toContain(KEY);
    await ext.dispose();
    await waitFor(() => / 0 session\(s\)/.test(daemon('--status').stdout), 10000, 'the session to close with the window');
  }, 180_000);

  test('an unusable runtime directory: the cause, the opt-out, and a standalone server', async () => {
    const missing = path.join(runtime, 'gone');
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111', XDG_RUNTIME_DIR: missing });
    const ext = await start(bundledCtx());
    await waitState(ext, 'ready', 150000);
    const warn = dialogs.shown.find((n) => n.severity === 'warning' && /shared qwen-lsp server could not start/.test(n.message));
    expect(warn, JSON.stringify(dialogs.shown)).toBeDefined();
    expect(warn!.message).toContain(`${missing} does not exist; set XDG_RUNTIME_DIR`);
    expect(warn!.message).toContain('set "qwen.server.shared" to false');
    expect(warn!.buttons).toEqual(['Open Settings', 'Show Log']);
    expect(dialogs.shown.some((n) => /stopped unexpectedly/.test(n.message))).toBe(false);
    const log = (ext.log as any).lines.join('\n');
    expect(log).toMatch(/starting bundled .*standalone: the shared server could not start: \S+python -m qwen_lsp *$/m);
    expect(fs.existsSync(missing)).toBe(false);
  }, 180_000);

  test('a daemon killed under the window: the client restarts and `--ensure` starts a new daemon', async () => {
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111', XDG_RUNTIME_DIR: runtime, QWEN_LSP_DAEMON_IDLE_TIMEOUT: '30' });
    const ext = await start(bundledCtx());
    await waitState(ext, 'ready', 150000);
    const first = daemonPid();
    expect(first).toBeGreaterThan(0);
    process.kill(first, 'SIGKILL');
    await waitFor(() => dialogs.shown.some((n) => /stopped unexpectedly and was restarted/.test(n.message)), 20000, 'the restart message');
    await waitFor(() => {
      const p = daemonPid();
      return p > 0 && p !== first && / 1 session\(s\)/.test(daemon('--status').stdout);
    }, 30000, 'a new daemon serving the window');
    await waitState(ext, 'ready', 30000);
    expect(statusItem().text).toBe('$(sparkle) Fake');
    expect(shimChildren()).toEqual([]);
  }, 180_000);

  test('"shim" keeps `qwen-lsp attach`', async () => {
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111', XDG_RUNTIME_DIR: runtime, QWEN_LSP_DAEMON_IDLE_TIMEOUT: '30' });
    settings['qwen.server.shared'] = 'shim';
    const ext = await start(bundledCtx());
    await waitState(ext, 'ready', 150000);
    expect((ext.log as any).lines.join('\n')).toMatch(/shared \(qwen-lsp attach\): \S+python -m qwen_lsp attach *$/m);
    expect(shimChildren()).toHaveLength(1);
    expect(daemon('--status').stdout).toMatch(/ 1 session\(s\)/);
  }, 180_000);
});

describe('sign-in', () => {
  test('Coding Plan from the catalogue: region, sk-sp- key, SecretStorage per provider, handed to the next start', async () => {
    const CP_MODELS = ['qwen3.5-plus', 'qwen3-coder-plus', 'glm-5'];
    home = tempHome({}, { QWEN_LSP_PRESET_BASE_URLS: `coding-plan=${upstream.url}/v1` });
    await http(`${upstream.url}/_fake/config`, { models: CP_MODELS });
    const secrets = new MemorySecrets();
    const state = new MemoryMemento();
    const ext = await start(fakeContext(secrets, state));
    await waitState(ext, 'needsAuth');
    let offered: any[] = [];
    dialogs.createQuickPick = (items) => {
      offered = items;
      return items.find((i: any) => i.row.provider?.id === 'coding-plan');
    };
    let regions: any[] = [];
    let persistChoices: any[] = [];
    dialogs.quickPick = (items) => {
      if (items[0].persist !== undefined) {
        persistChoices = items;
        return items.find((i: any) => i.persist === false);
      }
      regions = items;
      return items[1];
    };
    dialogs.inputs = ['sk-sp-unit-typed-98765'];
    const final = await ext.signIn();
    expect(final.phase).toBe('signedIn');
    // the rows are the server's catalogue, not a list of the extension's own
    const catalogue = await ext.client!.sendRequest<any>('qwen/providers', {});
    expect(offered.map((i) => i.label)).toEqual(catalogue.providers.map((p: any) => p.label));
    const cp = offered.find((i) => i.row.provider?.id === 'coding-plan');
    expect(cp.description).toContain('sk-sp-');
    expect(cp.description).toContain('2 regions');
    expect(cp.detail).toBe(cp.row.provider.docsUrl);
    // its button opens the page where a key is obtained
    dialogs.itemButton[0](cp);
    expect(String(mock.env.openExternal.mock.calls[0][0])).toBe(cp.row.provider.docsUrl);
    expect(regions.map((r) => r.id)).toEqual(cp.row.provider.regions.map((r: any) => r.id));
    const keyBox = (mock.window.showInputBox as any).mock.calls[0][0];
    expect(keyBox.password).toBe(true);
    expect(keyBox.validateInput('sk-wrong-1234')).toMatch(/start with "sk-sp-"/);
    expect(keyBox.validateInput('sk-sp-ok')).toBeUndefined();
    expect(persistChoices.map((i) => i.persist)).toEqual([false, true]);
    expect(fs.existsSync(path.join(home.qwenHome, '.env'))).toBe(false); // kept in VS Code only
    expect(secrets.data.get('qwen.apiKey.provider.coding-plan')).toBe('sk-sp-unit-typed-98765');
    expect(JSON.stringify([...state.data.values()])).not.toContain('sk-sp-unit');
    await waitState(ext, 'ready');
    // the model picker: the preset's models under the provider's label
    let picker: any[] = [];
    dialogs.createQuickPick = (items) => {
      picker = items;
      return items.find((i: any) => i.row?.kind === 'model' && i.row.model.id === 'qwen3-coder-plus');
    };
    const chosen = await ext.selectModel();
    expect(chosen?.current).toBe('qwen3-coder-plus');
    const seps = picker.filter((i) => i.kind === mock.QuickPickItemKind.Separator).map((i) => i.label);
    expect(seps).toContain(cp.label);
    const under = picker.slice(picker.findIndex((i) => i.label === cp.label) + 1);
    const group = under.slice(0, under.findIndex((i) => i.kind === mock.QuickPickItemKind.Separator));
    expect(group.map((i) => i.row.model.id)).toEqual(expect.arrayContaining(CP_MODELS));
    expect(group.every((i) => /preset|discovered/.test(i.description))).toBe(true);
    expect(picker.some((i) => i.row?.action === 'refresh')).toBe(true);
    await ext.dispose();

    // a new window: nothing typed, the key comes from SecretStorage with its provider and region
    dialogs.inputs = [];
    const ext2 = await start(fakeContext(secrets, state));
    await waitState(ext2, 'ready');
    const list = await ext2.client!.sendRequest<any>('qwen/listModels', {});
    expect(list.models.filter((m: any) => m.provider === cp.label).map((m: any) => m.id)).toEqual(expect.arrayContaining(CP_MODELS));
    const res = await ext2.client!.sendRequest<any>('qwen/complete', { prompt: 'ping' });
    expect(res.text).toBe(GHOST);
    expect(authHeader(await lastRequest())).toBe('Bearer sk-sp-unit-typed-98765');
    expect(mock.window.showInputBox).toHaveBeenCalledTimes(1); // only the first window asked

    // sign out removes the key from SecretStorage and the server
    await ext2.signOut();
    expect(secrets.data.size).toBe(0);
    await waitState(ext2, 'needsAuth');
  });

  test('custom endpoint: key, base URL, saved for the CLI on request; a refused key shows the server\'s message as it is', async () => {
    home = tempHome({});
    const ext = await start();
    await waitState(ext, 'needsAuth');
    dialogs.createQuickPick = (items) => items.find((i: any) => i.row.provider?.id === 'custom');
    dialogs.quickPick = (items) => items.find((i: any) => i.persist === true);
    dialogs.inputs = ['sk-typed-custom-4321', `${upstream.url}/v1`];
    expect((await ext.signIn()).phase).toBe('signedIn');
    await waitState(ext, 'ready');
    // persist: true went to the server, which saved the key like /auth (in <qwen home>/.env)
    expect(fs.readFileSync(path.join(home.qwenHome, '.env'), 'utf8')).toMatch(/^QWEN_CUSTOM_API_KEY_\w+=.*sk-typed-custom-4321/m);
    await ext.client!.sendRequest<any>('qwen/complete', { prompt: 'ping' });
    expect(authHeader(await lastRequest())).toBe('Bearer sk-typed-custom-4321');

    await http(`${upstream.url}/_fake/config`, { valid_keys: ['sk-only-this-one'] });
    dialogs.inputs = ['sk-typed-wrong-0000', `${upstream.url}/v1`];
    const failed = await ext.signIn('custom');
    expect(failed.phase).toBe('failed');
    const msg = (failed as any).message as string;
    expect(msg.length).toBeGreaterThan(0);
    expect(dialogs.shown.some((n) => n.severity === 'error' && n.message === `Qwen: sign-in failed: ${msg}`)).toBe(true);
  });

  test('API key: an empty key and Escape cancel without calling the server', async () => {
    home = tempHome({});
    const ext = await start();
    await waitState(ext, 'needsAuth');
    dialogs.createQuickPick = (items) => items.find((i: any) => i.row.method === 'anthropic');
    dialogs.inputs = [''];
    expect((await ext.signIn()).phase).toBe('cancelled');
    dialogs.createQuickPick = () => undefined;
    expect((await ext.signIn()).phase).toBe('cancelled');
    expect(ext.status?.state).toBe('needsAuth');
  });

  test('Qwen OAuth: user code, "Copy code & open browser", approval, status ready', async () => {
    home = tempHome({ security: { auth: { selectedType: 'qwen-oauth' } } }, { QWEN_OAUTH_BASE_URL: oauth.url });
    const ext = await start();
    await waitState(ext, 'needsAuth');
    dialogs.createQuickPick = (items) => {
      expect(items.map((i: any) => i.row.method)).toEqual(expect.arrayContaining(['qwen-oauth', 'openai', 'anthropic', 'gemini', 'vertex-ai']));
      return items.find((i: any) => i.row.method === 'qwen-oauth');
    };
    dialogs.button = (_m, buttons) => (buttons.includes('Copy code & open browser') ? 'Copy code & open browser' : undefined);
    mock.env.openExternal.mockImplementation(async (uri: vscode.Uri) => {
      const code = new URL(uri.toString(true)).searchParams.get('user_code');
      await http(`${oauth.url}/_fake/approve?user_code=${encodeURIComponent(code!)}`, {}); // the user clicks Approve
      return true;
    });
    const final = await ext.signIn();
    expect(final).toMatchObject({ phase: 'signedIn', method: 'qwen-oauth' });
    const note = dialogs.shown.find((n) => /enter code/.test(n.message))!;
    const code = /enter code (\S+)/.exec(note.message)![1];
    expect(mock.env.clipboard.writeText).toHaveBeenCalledWith(code);
    expect(String(mock.env.openExternal.mock.calls[0][0].toString(true))).toMatch(new RegExp(`^${oauth.url}/authorize\\?user_code=${code}(&|$)`));
    await waitState(ext, 'ready');
    expect(statusItem().text).toMatch(/^\$\(sparkle\) Qwen Coder/);
    expect(fs.existsSync(path.join(home.qwenHome, 'oauth_creds.json'))).toBe(true);
    expect(dialogs.shown.some((n) => /signed in with Qwen OAuth/.test(n.message))).toBe(true);
  });

  test('Qwen OAuth: denied in the browser fails with an actionable message', async () => {
    home = tempHome({ security: { auth: { selectedType: 'qwen-oauth' } } }, { QWEN_OAUTH_BASE_URL: oauth.url });
    const ext = await start();
    await waitState(ext, 'needsAuth');
    dialogs.button = (_m, buttons) => (buttons.includes('Copy code & open browser') ? 'Copy code & open browser' : undefined);
    mock.env.openExternal.mockImplementation(async (uri: vscode.Uri) => {
      const code = new URL(uri.toString(true)).searchParams.get('user_code');
      await http(`${oauth.url}/_fake/deny?user_code=${encodeURIComponent(code!)}`, {});
      return true;
    });
    const final = await ext.signIn('qwen-oauth');
    expect(final.phase).toBe('failed');
    expect(dialogs.shown.some((n) => n.severity === 'error' && /sign-in failed/.test(n.message) && n.buttons.includes('Try again'))).toBe(true);
  });

  test('Qwen OAuth: cancelling the progress stops waiting', async () => {
    home = tempHome({ security: { auth: { selectedType: 'qwen-oauth' } } }, { QWEN_OAUTH_BASE_URL: oauth.url });
    const ext = await start();
    await waitState(ext, 'needsAuth');
    let cancel!: () => void;
    dialogs.cancelProgress = new Promise<void>((r) => (cancel = r));
    dialogs.button = (m) => {
      if (/enter code/.test(m)) setTimeout(cancel, 100);
      return undefined;
    };
    const final = await ext.signIn('qwen-oauth');
    expect(final.phase).toBe('cancelled');
    expect(mock.env.openExternal).not.toHaveBeenCalled();
  });
});

describe('model picker', () => {
  test('grouped by protocol from qwen/listModels; choosing calls qwen/selectModel and persists', async () => {
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111' });
    const ext = await start();
    await waitState(ext, 'ready');
    let offered: any[] = [];
    dialogs.createQuickPick = (items) => {
      offered = items;
      return items.find((i: any) => i.label.endsWith('Fake Two'));
    };
    const res = await ext.selectModel();
    expect(res?.current).toBe('fake-model-2');
    const seps = offered.filter((i) => i.kind === mock.QuickPickItemKind.Separator).map((i) => i.label);
    expect(seps).toEqual(['OpenAI-compatible', 'Anthropic', '']);
    expect(offered.find((i) => i.label.includes('Claude Without Key')).description).toContain('no credentials');
    expect(offered.find((i) => i.label.includes('$(check)')).label).toBe('$(check) Fake');
    await waitFor(() => statusItem().text === '$(sparkle) Fake Two', 10000, 'status bar to show Fake Two');
    expect(fs.readFileSync(path.join(home.qwenHome, 'settings.json'), 'utf8')).toContain('fake-model-2');
  });
});

describe('inline completions and errors', () => {
  const docUri = () => vscode.Uri.file(path.join(home.dir, 'demo.py'));
  async function setup(settingsJson: unknown, env: Record<string, string> = {}) {
    home = tempHome(settingsJson, env);
    const ext = await start();
    const provider = (mock.languages.registerInlineCompletionItemProvider as any).mock.calls.at(-1)[1] as QwenInlineCompletionProvider;
    await waitFor(() => ext.status, 15000, 'first qwen/status');
    await ext.client!.sendNotification('textDocument/didOpen', {
      textDocument: { uri: ext.client!.code2ProtocolConverter.asUri(docUri()), languageId: 'python', version: 1, text: 'def answer():\n    ' },
    });
    return { ext, provider };
  }
  const tokenSource = () => {
    const listeners: (() => void)[] = [];
    const token = { isCancellationRequested: false, onCancellationRequested: (f: () => void) => (listeners.push(f), { dispose() {} }) };
    return { token, cancel: () => ((token.isCancellationRequested = true), listeners.forEach((f) => f())) };
  };
  const automatic = { triggerKind: 1, selectedCompletionInfo: undefined } as any;
  const doc = () => ({ uri: docUri() }) as any;
  const pos = new vscode.Position(1, 4);

  test('ghost text from the server; toggle and debounce-cancel send nothing upstream', async () => {
    const { ext, provider } = await setup(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111' });
    await waitState(ext, 'ready');
    settings['qwen.inlineCompletions.debounceMs'] = 150;
    const items = await provider.provideInlineCompletionItems(doc(), pos, automatic, tokenSource().token as any);
    expect(items?.[0].insertText).toBe(GHOST);
    const sent = (await chatRequests()).length;
    expect(sent).toBe(1);

    // a keystroke during the debounce cancels: no request at all
    const t = tokenSource();
    const p = provider.provideInlineCompletionItems(doc(), pos, automatic, t.token as any);
    setTimeout(t.cancel, 20);
    expect(await p).toBeUndefined();

    settings['qwen.inlineCompletions.enable'] = false;
    expect(await provider.provideInlineCompletionItems(doc(), pos, automatic, tokenSource().token as any)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect((await chatRequests()).length).toBe(sent);
  });

  test('a new keystroke cancels the request in flight and the upstream connection closes', async () => {
    // reset before the server starts: a reset forgets open connections, and the completion may
    // reuse one the server opened earlier to list the endpoint's models
    await http(`${upstream.url}/_fake/reset`, {});
    await http(`${upstream.url}/_fake/script`, { route: 'chat', behaviours: [{ text: 'too late', hold: 'g1', hold_at: 1 }] });
    const { ext, provider } = await setup(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111' });
    await waitState(ext, 'ready');
    settings['qwen.inlineCompletions.debounceMs'] = 0;
    const t = tokenSource();
    const p = provider.provideInlineCompletionItems(doc(), pos, automatic, t.token as any);
    await waitFor(async () => (await chatRequests()).length === 1, 10000, 'the request upstream');
    t.cancel();
    expect(await p).toBeUndefined();
    await waitFor(async () => (await http(`${upstream.url}/_fake/connections`)).some((c: any) => c.closed_by === 'client'), 10000,
      'the server to close the upstream connection');
    await http(`${upstream.url}/_fake/release`, { gate: 'g1' });
    expect(dialogs.shown.filter((n) => n.severity === 'error')).toHaveLength(0);
  });

  test('ghost text comes from textDocument/inlineCompletion, without the code fences the model wrapped it in', async () => {
    const { ext, provider } = await setup(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-1111' });
    await waitState(ext, 'ready');
    await http(`${upstream.url}/_fake/reset`, {});
    await http(`${upstream.url}/_fake/script`, { route: 'chat', behaviours: [{ text: '```python\nreturn 42\n```' }] });
    const items = await provider.provideInlineCompletionItems(doc(), pos, { triggerKind: 0 } as any, tokenSource().token as any);
    expect(items?.map((i) => i.insertText)).toEqual(['return 42']);
  });

  test('auth error: the status item shows lastError; one notification with "Sign in again"', async () => {
    const { ext, provider } = await setup(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-revoked-1111' });
    await waitState(ext, 'ready');
    await http(`${upstream.url}/_fake/config`, { valid_keys: ['sk-some-other-key'] }); // the key was revoked
    settings['qwen.inlineCompletions.debounceMs'] = 0;
    for (let i = 0; i < 3; i++) {
      expect(await provider.provideInlineCompletionItems(doc(), pos, automatic, tokenSource().token as any)).toBeUndefined();
    }
    await waitFor(() => ext.status?.lastError, 10000, 'lastError in qwen/status');
    expect(ext.status!.lastError).toMatchObject({ kind: 'auth', model: 'fake-model' });
    expect(statusItem().text).toBe('$(error) Fake: sign-in rejected');
    expect(statusItem().command).toBe('qwen.showLastError');
    expect((statusItem().tooltip as any).value).toContain('Last completion with fake-model failed (sign-in rejected)');
    expect(JSON.stringify(ext.status)).not.toContain('sk-unit-revoked-1111');
    await waitFor(() => dialogs.shown.some((n) => n.severity === 'error'), 5000, 'a notification');
    const errs = dialogs.shown.filter((n) => n.severity === 'error');
    expect(errs).toHaveLength(1);
    expect(errs[0].message).toMatch(/^Qwen completion with fake-model/);
    expect(errs[0].buttons).toContain('Sign in again');

    // the next success clears it
    await http(`${upstream.url}/_fake/config`, { valid_keys: null });
    expect((await provider.provideInlineCompletionItems(doc(), pos, automatic, tokenSource().token as any))?.[0].insertText).toBe(GHOST);
    await waitFor(() => ext.status && !ext.status.lastError, 10000, 'lastError to clear');
    expect(statusItem().text).toBe('$(sparkle) Fake');
  });

  test('config error -> "Open settings.json" opens the user settings file', async () => {
    const s = { modelProviders: { openai: [{ id: 'remote', name: 'Remote', envKey: 'FAKE_KEY', baseUrl: 'http://example.invalid/v1' }] }, security: { auth: { selectedType: 'openai' } } };
    const { ext } = await setup(s, { FAKE_KEY: 'sk-unit-fake-1111' });
    dialogs.button = (_m, b) => (b.includes('Open settings.json') ? 'Open settings.json' : undefined);
    await waitFor(() => ext.status, 15000, 'status');
    const complete = await ext.client!.sendRequest('qwen/complete', { prompt: 'x' }).then(
      () => undefined,
      (e) => e,
    );
    expect(complete?.data?.kind).toBe('config');
    ext.reportError(complete, 'Qwen');
    const err = dialogs.shown.find((n) => n.severity === 'error')!;
    expect(err.message).toContain('example.invalid');
    await waitFor(() => (mock.window.showTextDocument as any).mock.calls.length > 0, 5000, 'settings.json to open');
    expect((mock.window.showTextDocument as any).mock.calls[0][0].fsPath).toBe(path.join(home.qwenHome, 'settings.json'));
  });
});

describe('configuration problems', () => {
  test('a broken ~/.qwen/settings.json shows in the status item and once as a notification that opens it at the line', async () => {
    home = tempHome({});
    fs.writeFileSync(path.join(home.qwenHome, 'settings.json'), '{\n  "model": {"name": "x"},\n}\n');
    dialogs.button = (_m, b) => (b.includes('Open File') ? 'Open File' : undefined);
    const ext = await start();
    await waitFor(() => ext.status?.problems, 15000, 'problems in qwen/status');
    expect(statusItem().text).toMatch(/^\$\(warning\) Qwen: 1 config problem/);
    expect(statusItem().command).toBe('qwen.showProblem');
    const tip = (statusItem().tooltip as any).value as string;
    expect(tip).toContain('settings.json line');
    expect(tip).toContain('(command:qwen.showProblem)');
    const notes = dialogs.shown.filter((n) => n.severity === 'error');
    expect(notes).toHaveLength(1);
    expect(notes[0].message).toContain('settings.json line');
    await waitFor(() => (mock.window.showTextDocument as any).mock.calls.length > 0, 5000, 'settings.json to open');
    const [uri, opts] = (mock.window.showTextDocument as any).mock.calls[0];
    expect(uri.fsPath).toBe(path.join(home.qwenHome, 'settings.json'));
    expect(opts.selection.start.line).toBe(ext.status!.problems!.first.line! - 1);
  });
});

describe('show configuration', () => {
  test('renders qwen/config with sources and masked secrets', async () => {
    home = tempHome(openaiSettings(upstream.url), { FAKE_KEY: 'sk-unit-fake-secret-7777' });
    const ext = await start();
    await waitState(ext, 'ready');
    await ext.showConfig();
    const provider = (mock.workspace.registerTextDocumentContentProvider as any).mock.calls.at(-1)[1];
    const md: string = provider.provideTextDocumentContent(QwenExtension.configUri);
    expect(md).toContain('# Qwen: effective configuration');
    expect(md).toContain('env QWEN_HOME');
    expect(md).toContain('7777');
    expect(md).not.toContain('sk-unit-fake-secret-7777');
    // rendered beside the editor, not raw Markdown
    expect(mock.commands.executeCommand).toHaveBeenCalledWith('markdown.showPreviewToSide', QwenExtension.configUri);
  });
});
