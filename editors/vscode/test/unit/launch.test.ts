// Pure parts of starting the server: settings under workspace trust, Python discovery, the
// launch plan and the bundled environment's bookkeeping. No vscode, no server.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, describe, expect, test } from 'vitest';
import { BundleManifest, envDirName, envPython, isEnvReady, readManifest, removeStaleEnvs } from '../../src/bundledServer';
import { choosePython, listVersions, parseProbe, PROBE_SCRIPT, pythonCandidates } from '../../src/python';
import { attachFailureMessage, launchFromArgs, NO_BUNDLE_MESSAGE, parseEnsureOutput, planLaunch, withoutAttach } from '../../src/serverCommand';
import { HIDDEN, hideSessionField } from '../../src/traceRedact';
import { resolveRestricted, serverSettings } from '../../src/settings';

describe('settings under workspace trust', () => {
  const all = { defaultValue: '', globalValue: '/home/u/bin/qwen-lsp', workspaceValue: './evil.sh' };

  test('trusted: the workspace value wins over the user value', () => {
    expect(resolveRestricted(all, true)).toEqual({ value: './evil.sh', from: 'workspace' });
    expect(resolveRestricted({ ...all, workspaceFolderValue: './f.sh' }, true)).toMatchObject({ value: './f.sh', from: 'workspaceFolder' });
  });

  test('Restricted Mode: the User (or Remote) value applies, the workspace value is refused', () => {
    expect(resolveRestricted(all, false)).toEqual({ value: '/home/u/bin/qwen-lsp', from: 'user', refusedWorkspaceValue: './evil.sh' });
    expect(resolveRestricted({ defaultValue: '', workspaceFolderValue: './f.sh' }, false)).toEqual({ value: '', from: 'default', refusedWorkspaceValue: './f.sh' });
    expect(resolveRestricted({ defaultValue: '', globalValue: '/u/q' }, false)).toEqual({ value: '/u/q', from: 'user' });
    expect(resolveRestricted(undefined, false)).toEqual({ value: undefined, from: 'default' });
  });

  test('serverSettings: command trimmed, args filtered, a refused workspace value is noted', () => {
    const inspect = (k: 'command' | 'args') =>
      k === 'command' ? { defaultValue: '', globalValue: ' /opt/q ', workspaceValue: 'x' } : { defaultValue: [], globalValue: ['--log-level', 'DEBUG', 3] };
    const s = serverSettings(inspect, false);
    expect(s).toEqual({ command: '/opt/q', args: ['--log-level', 'DEBUG'], shared: true, notes: [expect.stringContaining("workspace's qwen.server.command is ignored in Restricted Mode")] });
    expect(serverSettings(inspect, true).command).toBe('x');
    expect(serverSettings(() => undefined, false)).toEqual({ command: '', args: [], shared: true, notes: [] });
  });

  test('serverSettings: qwen.server.shared defaults to true and follows the same trust rule', () => {
    const only = (shared: object) => (k: 'command' | 'args' | 'shared') => (k === 'shared' ? shared : undefined);
    expect(serverSettings(only({ defaultValue: true }), false).shared).toBe(true);
    expect(serverSettings(only({ defaultValue: true, globalValue: false }), false).shared).toBe(false);
    const ws = serverSettings(only({ defaultValue: true, workspaceValue: false }), false);
    expect(ws.shared).toBe(true);
    expect(ws.notes).toEqual([expect.stringContaining("workspace's qwen.server.shared is ignored in Restricted Mode")]);
    expect(serverSettings(only({ defaultValue: true, workspaceValue: false }), true).shared).toBe(false);
    expect(serverSettings(only({ globalValue: 'no' }), true).shared).toBe(true); // not a boolean: the default
    expect(serverSettings(only({ defaultValue: true, globalValue: 'shim' }), false).shared).toBe('shim');
    const wsShim = serverSettings(only({ defaultValue: true, workspaceValue: 'shim' }), false);
    expect(wsShim.shared).toBe(true);
    expect(wsShim.notes).toEqual([expect.stringContaining("workspace's qwen.server.shared is ignored in Restricted Mode")]);
    expect(serverSettings(only({ defaultValue: true, workspaceValue: 'shim' }), true).shared).toBe('shim');
  });
});

describe('Python discovery', () => {
  const exes = new Set(['/usr/bin/python3', '/usr/bin/python', '/opt/py/bin/python3']);
  const isExecutable = (f: string) => exes.has(f);

  test('Python extension, then python.defaultInterpreterPath, then python3/python on PATH; no duplicates', () => {
    const c = pythonCandidates({
      fromPythonExtension: '/venv/bin/python',
      defaultInterpreterPath: '~/py/bin/python',
      homeDir: '/home/u',
      pathEnv: '/nope:/usr/bin:/opt/py/bin',
      platform: 'linux',
      isExecutable,
    });
    expect(c).toEqual([
      { path: '/venv/bin/python', source: 'the Python extension' },
      { path: '/home/u/py/bin/python', source: 'python.defaultInterpreterPath' },
      { path: '/usr/bin/python3', source: 'PATH' },
      { path: '/usr/bin/python', source: 'PATH' },
    ]);
    // "python" is the setting's default: it means PATH, not a file
    expect(pythonCandidates({ defaultInterpreterPath: 'python', fromPythonExtension: '/usr/bin/python3', pathEnv: '/usr/bin', isExecutable, platform: 'linux' }))
      .toEqual([{ path: '/usr/bin/python3', source: 'the Python extension' }, { path: '/usr/bin/python', source: 'PATH' }]);
    expect(pythonCandidates({ pathEnv: 'C:\\Py;C:\\Other', platform: 'win32', isExecutable: (f) => f === path.join('C:\\Py', 'python.exe') }))
      .toEqual([{ path: path.join('C:\\Py', 'python.exe'), source: 'PATH' }]);
  });

  test('parseProbe', () => {
    expect(parseProbe('cpython 3 12 4\n')).toEqual({ implementation: 'cpython', version: [3, 12, 4] });
    expect(parseProbe('Python 2.7.18').error).toContain('unexpected answer');
  });

  test('the probe script runs on a real interpreter', () => {
    const out = cp.execFileSync('python3', ['-c', PROBE_SCRIPT], { encoding: 'utf8' });
    const p = parseProbe(out);
    expect(p.implementation).toBe('cpython');
    expect(p.version![0]).toBe(3);
  });

  const answers: Record<string, ReturnType<typeof parseProbe>> = {
    '/old/python3': { implementation: 'cpython', version: [3, 9, 2] },
    '/new/python3': { implementation: 'cpython', version: [3, 14, 0] },
    '/pypy/python3': { implementation: 'pypy', version: [3, 11, 0] },
    '/broken/python3': { error: 'exit 127' },
    '/good/python3': { implementation: 'cpython', version: [3, 12, 1] },
  };
  const probe = async (p: string) => answers[p] ?? { error: 'not found' };
  const supported = ['3.11', '3.12', '3.13'];

  test('the first CPython in a supported version is chosen; the others are listed with the reason', async () => {
    const r = await choosePython(
      ['/old/python3', '/new/python3', '/pypy/python3', '/broken/python3', '/good/python3'].map((p) => ({ path: p, source: 'PATH' })),
      probe,
      supported,
    );
    expect(r).toMatchObject({ ok: true, python: '/good/python3', version: [3, 12, 1] });
    expect(r.skipped).toEqual([
      '/old/python3 (from PATH) is Python 3.9.2',
      '/new/python3 (from PATH) is Python 3.14.0',
      '/pypy/python3 (from PATH) is pypy 3.11.0, not CPython',
      '/broken/python3 (from PATH) did not run: exit 127',
    ]);
  });

  test('no suitable Python: one message that says so, what was found and both ways out', async () => {
    const r = await choosePython([{ path: '/old/python3', source: 'PATH' }], probe, supported);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toContain('Qwen needs Python 3.11, 3.12 or 3.13 to run its bundled qwen-lsp server.');
    expect(r.message).toContain('/old/python3 (from PATH) is Python 3.9.2');
    expect(r.message).toContain('"qwen.server.command"');
    expect(r.message).not.toMatch(/pip install qwen-lsp/);
    const none = await choosePython([], probe, supported);
    expect(!none.ok && none.message).toContain('None was found on PATH or in the Python extension.');
    expect(listVersions(['3.11'])).toBe('3.11');
  });
});

describe('launch plan', () => {
  const manifest: BundleManifest = { serverVersion: '0.1.0', target: 'linux-x64', pythons: ['3.11'], pipWheel: 'pip-26.3-py3-none-any.whl', id: 'abc' };
  test('qwen.server.command overrides the bundled server, run as written; ~ expanded; args kept', () => {
    expect(planLaunch({ configured: '~/bin/q', args: ['-x'], homeDir: '/home/u', manifest })).toEqual({ kind: 'override', command: '/home/u/bin/q', args: ['-x'], shared: false });
    // qwen.server.shared does not change a command of the user's own
    expect(planLaunch({ configured: '/q', args: [], shared: true, manifest, platform: 'linux' })).toEqual({ kind: 'override', command: '/q', args: [], shared: false });
    // `attach` in qwen.server.args opts it in; the standalone alternative drops just that word
    expect(planLaunch({ configured: '/q', args: ['attach', '--log-level', 'DEBUG'], manifest })).toEqual({
      kind: 'override', command: '/q', args: ['attach', '--log-level', 'DEBUG'], shared: true, standaloneArgs: ['--log-level', 'DEBUG'],
    });
  });
  test('the bundled server connects to the daemon directly by default, through `attach` with "shim"; standalone when qwen.server.shared is off', () => {
    expect(planLaunch({ configured: '', args: [], manifest, platform: 'linux' })).toEqual({ kind: 'bundled', manifest, args: ['attach'], shared: true, standaloneArgs: [], direct: true });
    expect(planLaunch({ configured: '', args: ['--model', 'm'], shared: true, manifest, platform: 'darwin' })).toEqual({
      kind: 'bundled', manifest, args: ['attach', '--model', 'm'], shared: true, standaloneArgs: ['--model', 'm'], direct: true,
    });
    expect(planLaunch({ configured: '', args: ['--model', 'm'], shared: 'shim', manifest, platform: 'linux' })).toEqual({
      kind: 'bundled', manifest, args: ['attach', '--model', 'm'], shared: true, standaloneArgs: ['--model', 'm'],
    });
    expect(planLaunch({ configured: '', args: [], shared: 'shim', manifest, platform: 'win32' })).toEqual({ kind: 'bundled', manifest, args: [], shared: false });
    // a command of the user's own with `attach` runs as written (the shim), never direct
    expect(planLaunch({ configured: '/q', args: ['attach'], shared: true, manifest, platform: 'linux' })).not.toHaveProperty('direct');
    expect(planLaunch({ configured: '', args: ['--model', 'm'], shared: false, manifest, platform: 'linux' })).toEqual({ kind: 'bundled', manifest, args: ['--model', 'm'], shared: false });
    // Windows has no daemon (Unix sockets, fork): standalone whatever the setting
    expect(planLaunch({ configured: '', args: [], shared: true, manifest, platform: 'win32' })).toEqual({ kind: 'bundled', manifest, args: [], shared: false });
    // `attach` already in qwen.server.args is not doubled (and runs as written: the shim)
    expect(planLaunch({ configured: '', args: ['attach'], manifest, platform: 'linux' })).toMatchObject({ args: ['attach'], shared: true, standaloneArgs: [] });
    expect(planLaunch({ configured: '', args: ['attach'], manifest, platform: 'linux' })).not.toHaveProperty('direct');
    expect(withoutAttach(['--model', 'attach', 'attach'])).toEqual(['--model', 'attach']);
  });
  test("the shim's own line is what a failed attach says", () => {
    const err = 'qwen-lsp: warning: unknown launch flag(s) ignored: --x\nqwen-lsp attach: /run/user/9 does not exist; set XDG_RUNTIME_DIR to an existing directory of yours.\n';
    expect(attachFailureMessage(err)).toBe('/run/user/9 does not exist; set XDG_RUNTIME_DIR to an existing directory of yours.');
    expect(attachFailureMessage('Traceback ...\nOSError: boom\n')).toBe('OSError: boom');
    expect(attachFailureMessage('')).toContain('exited with code 2');
  });
  test("launch flags for a direct session: exactly what `qwen-lsp attach <args>` puts in its hello", () => {
    const cases = [
      [],
      ['--model', 'm'],
      ['-m', 'x', '--auth-type=openai', '--openai-api-key', 'sk-1', '--openai-base-url', 'http://u/v1', '--proxy', 'http://p:1'],
      ['--retry-base-ms', '5'],
      ['--retry-base-ms=abc'],
      ['--retry-base-ms', '70000', '--model', 'm'],
      ['--model'],
      ['--model', '--auth-type', 'openai'],
      ['--foo', 'bar', '--model=q'],
      ['--x-api-key', 'sk-secret', '--y'],
      ['zzz'],
      ['--stdio', '--tcp', '--log-level', 'DEBUG', '--model', 'm'],
      ['--log-file', '/tmp/x', '--proxy', 'http://p'],
      ['--auth-type='],
    ];
    // the real shim's parsing (server/qwen_lsp/__main__.py), run with the repo's Python
    const script = [
      'import json, sys',
      'from qwen_lsp import __main__ as m',
      'from qwen_lsp.daemon import attach',
      'out = []',
      'for args in json.load(sys.stdin):',
      '    fast = m._attach_fast(args)',
      '    if fast is None:',
      "        ns, problems = m.parse(['attach', *args])",
      '        fast = m._launch_options(ns, problems)',
      "    out.append(attach.hello(fast)['launch'])",
      'print(json.dumps(out))',
    ].join('\n');
    const r = cp.spawnSync(process.env.PYTHON || 'python', ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // argparse's path sends an empty launchProblems and retryBaseMs as a number: the same to the server
    const norm = (l: Record<string, unknown>) => {
      const o = { ...l };
      if (Array.isArray(o.launchProblems) && o.launchProblems.length === 0) delete o.launchProblems;
      if (o.retryBaseMs !== undefined) o.retryBaseMs = Number(o.retryBaseMs);
      return o;
    };
    const shim = (JSON.parse(r.stdout) as Record<string, unknown>[]).map(norm);
    expect(cases.map((c) => norm(launchFromArgs(c).launch))).toEqual(shim);
    // spot checks, so that a shim and a mapping that both broke cannot agree on nothing
    expect(shim[2]).toEqual({ model: 'x', authType: 'openai', openaiApiKey: 'sk-1', openaiBaseUrl: 'http://u/v1', proxy: 'http://p:1' });
    expect(JSON.stringify(launchFromArgs(['--x-api-key', 'sk-secret']).launch)).not.toContain('sk-secret');
    expect(launchFromArgs(['--log-file', '/tmp/x']).notes).toEqual([expect.stringContaining('"qwen.server.shared" to "shim"')]);
  });

  test('`attach --ensure` output: the socket, or why there is none', () => {
    expect(parseEnsureOutput('{"socket": "/run/user/1/qwen-lsp/daemon-0.1.0.sock", "version": "0.1.0", "pid": 12}\n')).toEqual({ socket: '/run/user/1/qwen-lsp/daemon-0.1.0.sock' });
    expect(parseEnsureOutput('')).toEqual({ error: expect.stringContaining('printed no socket') });
    expect(parseEnsureOutput('{"socket": null}')).toHaveProperty('error');
    expect(parseEnsureOutput('usage: qwen-lsp ...')).toHaveProperty('error');
  });

  test("the trace never shows qwenSession's value, in the client's pretty or one-line JSON", () => {
    const session = { env: { OPENAI_API_KEY: 'sk-env-secret', WEIRD: 'a "}] b\\' }, launch: { openaiApiKey: 'sk-flag-secret' }, cwd: '/w' };
    const params = { processId: 1, initializationOptions: { qwenSession: session, editor: 'vscode' }, rootUri: null };
    for (const text of [`Params: ${JSON.stringify(params, null, 4)}`, JSON.stringify({ params })]) {
      const out = hideSessionField(text);
      expect(out).not.toContain('sk-env-secret');
      expect(out).not.toContain('sk-flag-secret');
      expect(out).toContain(HIDDEN);
      // the rest is intact
      const parsed = JSON.parse(out.replace(/^Params: /, ''));
      const opts = (parsed.params ?? parsed).initializationOptions;
      expect(opts).toEqual({ qwenSession: JSON.parse(HIDDEN), editor: 'vscode' });
    }
    expect(hideSessionField('no field here "qwenSession" is a word')).toBe('no field here "qwenSession" is a word');
    // cut short (a line limit): everything after the field is hidden
    expect(hideSessionField('{"qwenSession": {"env": {"K": "sk-cut')).not.toContain('sk-cut');
  });

  test('a build without a bundle says how to get one; no pip install of a package that is on no index', () => {
    const p = planLaunch({ configured: '  ', args: [] });
    expect(p).toEqual({ kind: 'error', message: NO_BUNDLE_MESSAGE });
    expect(NO_BUNDLE_MESSAGE).toContain('qwen.server.command');
    expect(NO_BUNDLE_MESSAGE).not.toMatch(/pip install/);
  });
});

describe('bundled environment bookkeeping', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen-bundle-'));
    dirs.push(d);
    return d;
  };
  const m = (id: string): BundleManifest => ({ serverVersion: '0.1.0', target: 'linux-x64', pythons: ['3.11'], pipWheel: 'pip.whl', id });
  const fakeEnv = (dir: string, id: string) => {
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'bin', 'python'), '');
    fs.writeFileSync(path.join(dir, 'qwen-lsp-bundle.json'), JSON.stringify({ id }));
  };

  test('one directory per bundle and interpreter', () => {
    const a = envDirName(m('one'), '/usr/bin/python3', [3, 11, 2]);
    expect(a).toMatch(/^qwen-lsp-0\.1\.0-py311-[0-9a-f]{10}$/);
    expect(envDirName(m('two'), '/usr/bin/python3', [3, 11, 2])).not.toBe(a);
    expect(envDirName(m('one'), '/opt/python3', [3, 11, 2])).not.toBe(a);
    expect(envPython('/e', 'win32')).toBe(path.join('/e', 'Scripts', 'python.exe'));
  });

  test('ready only with the marker of the same bundle; stale environments are removed', () => {
    const parent = tmp();
    const current = path.join(parent, 'qwen-lsp-0.1.0-py311-aaaa');
    const old = path.join(parent, 'qwen-lsp-0.0.9-py311-bbbb');
    const half = path.join(parent, 'qwen-lsp-0.1.0-py312-cccc'); // interrupted before the marker
    const building = path.join(parent, '.building-x');
    fakeEnv(current, 'new');
    fakeEnv(old, 'old');
    fs.mkdirSync(half);
    fs.mkdirSync(building);
    expect(isEnvReady(current, m('new'))).toBe(true);
    expect(isEnvReady(old, m('new'))).toBe(false);
    expect(removeStaleEnvs(parent, m('new')).sort()).toEqual(['qwen-lsp-0.0.9-py311-bbbb', 'qwen-lsp-0.1.0-py312-cccc']);
    expect(fs.existsSync(building)).toBe(true); // another window may be building right now
    expect(removeStaleEnvs(parent, m('new'), Date.now() + 3600_000)).toEqual(['.building-x']);
    expect(fs.readdirSync(parent)).toEqual(['qwen-lsp-0.1.0-py311-aaaa']);
  });

  test('readManifest: none in a development tree, the packaged one otherwise', () => {
    const ext = tmp();
    expect(readManifest(ext)).toBeUndefined();
    fs.mkdirSync(path.join(ext, 'bundled'));
    fs.writeFileSync(path.join(ext, 'bundled', 'manifest.json'), JSON.stringify(m('x')));
    expect(readManifest(ext)).toEqual(m('x'));
    fs.writeFileSync(path.join(ext, 'bundled', 'manifest.json'), '{"serverVersion": 1}');
    expect(readManifest(ext)).toBeUndefined();
  });
});
