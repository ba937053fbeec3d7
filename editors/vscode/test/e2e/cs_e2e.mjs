// End to end in a real VS Code host: code-server + headless Debian chromium (playwright-core).
// Only the packaged .vsix is installed, into a fresh HOME and profile whose PATH has no qwen-lsp;
// the folder opens in Restricted Mode (workspace trust on, never prompted: what a fresh profile
// gets). Loopback fakes: tests.fakes.llm_upstream (OpenAI-compatible) and tests.fakes.oauth_server
// (Qwen device flow on 127.0.0.2, which code-server does not rewrite to its proxy).
//
// newcomer — the server the .vsix carries, nothing configured:
//   1. the bundled server is set up from the .vsix (private environment in globalStorage) and
//      the status item says "needs sign-in"; it runs shared (the default): `qwen-lsp daemon
//      --status` in the scenario's own XDG_RUNTIME_DIR shows the window's session, connected to
//      the daemon's socket directly (no `qwen-lsp attach` process)
//   2. "Qwen: Sign in" lists the server's catalogue -> Alibaba Cloud Coding Plan -> region ->
//      `sk-sp-` key -> signed in (QWEN_LSP_PRESET_BASE_URLS points the preset at the fake, which
//      lists the Coding Plan models)
//   3. the status item's model picker shows the Coding Plan models under the provider's label
//      (preset) -> pick one -> the status item names it
//   4. type in a file -> ghost text from that model; the model's code fences are not in it; the
//      fake saw the typed key
//   5. "Qwen: Show Configuration" opens a rendered preview; screenshot -> SCREENSHOT_DIR
// broken-settings — qwen.server.command in User settings (Restricted Mode), a trailing comma in
// ~/.qwen/settings.json:
//   6. the status item names the problem (file and line); clicking it opens settings.json there;
//      the User setting's server ran, as written (standalone: no daemon socket appeared)
//   7. the file is fixed on disk -> the problem goes; "Qwen: Sign in" -> Qwen OAuth -> code in a
//      notification -> "Copy code & open browser" -> Approve -> signed in
//   8. the status item's model picker -> "Fake Two" -> persisted
//
// Env: CODE_SERVER (code-server bin), NODE24_BIN (dir with node 24), VSIX, REPO_ROOT (for
// `python -m tests.fakes.*`), PYTHON (default: python on PATH), QWEN_LSP (a qwen-lsp for the
// override case; default: the one on PATH), CHROMIUM, SCREENSHOT_DIR, KEEP_TMP=1.
// Each scenario has its own short XDG_RUNTIME_DIR (socket paths are limited to 107 bytes); the
// daemon a scenario started is stopped (`qwen-lsp daemon --stop`) when it ends, pass or fail.
// Exit 0 when every step passed; every wait is bounded.
import cp from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const here = path.dirname(fileURLToPath(import.meta.url));
const extDir = path.resolve(here, '..', '..');
const repoRoot = process.env.REPO_ROOT || path.resolve(extDir, '..', '..');
const vsix = process.env.VSIX || fs.readdirSync(extDir).filter((f) => f.endsWith('.vsix')).map((f) => path.join(extDir, f))[0];
const python = process.env.PYTHON || 'python';
const screenshotDir = process.env.SCREENSHOT_DIR || path.join(os.tmpdir(), 'qwen-vscode-e2e-screenshots');
const GHOST = 'return 42  # qwen ghost';
const FENCED = '```python\n' + GHOST + '\n```';
const API_KEY = 'sk-sp-fake-e2e-typed-0000-abcd'; // a Coding Plan key: the preset wants `sk-sp-`
const CP_LABEL = 'Alibaba Cloud Coding Plan';
const CP_MODELS = ['qwen3.5-plus', 'qwen3-coder-plus', 'glm-5'];
const CP_PICK = 'qwen3-coder-plus';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen-cs-e2e-'));
const children = [];
const t0 = Date.now();
let stepStart = Date.now();
const step = (name) => {
  const now = Date.now();
  console.log(`[e2e] ${name} (+${((now - stepStart) / 1000).toFixed(1)} s)`);
  stepStart = now;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      if (await pred()) return;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  if (current) console.error('[e2e] status items now:', await current.page.locator('[aria-label^="Qwen status:"]').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label'))).catch(() => '?'));
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
}

/** Start a fake with `python -m <module> ...`; resolve with its first stdout line. */
function startFake(module, args) {
  const p = cp.spawn(python, ['-m', module, ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONPATH: repoRoot } });
  children.push(p);
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${module} did not start: ${err}`)), 20000);
    readline.createInterface({ input: p.stdout }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l.trim());
    });
    p.on('exit', (c) => reject(new Error(`${module} exited ${c}: ${err}`)));
  });
}

async function json(url, body) {
  const r = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

/** PATH without any directory that holds a qwen-lsp (the repo's .venv/bin above all). */
function pathWithoutQwenLsp() {
  const dirs = (process.env.PATH || '').split(':').filter((d) => d && !fs.existsSync(path.join(d, 'qwen-lsp')));
  return [process.env.NODE24_BIN, ...dirs].filter(Boolean).join(':');
}

const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'telemetry.telemetryLevel': 'off',
  // Restricted Mode, as a fresh profile opens a folder, without the modal trust prompt
  'security.workspace.trust.enabled': true,
  'security.workspace.trust.startupPrompt': 'never',
  'security.workspace.trust.untrustedFiles': 'open',
  'extensions.autoUpdate': false,
  'editor.inlineSuggest.enabled': true,
  'qwen.inlineCompletions.debounceMs': 100,
  'qwen.trace.server': 'messages',
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

/** A fresh HOME, profile and workspace; code-server with only the .vsix; a browser on it. */
async function launch(name, { userSettings = {}, qwenSettings, env: extraEnv = {}, trustedDomains = [] }) {
  const tmp = path.join(tmpRoot, name);
  const dirs = Object.fromEntries(['home', 'ext', 'user', 'ws', 'xdg'].map((d) => [d, path.join(tmp, d)]));
  Object.values(dirs).forEach((d) => fs.mkdirSync(d, { recursive: true }));
  dirs.runtime = fs.mkdtempSync('/tmp/qcs-');
  runtimes.push(dirs.runtime);
  const qwenHome = path.join(dirs.home, '.qwen');
  if (qwenSettings !== undefined) {
    fs.mkdirSync(qwenHome, { recursive: true });
    fs.writeFileSync(path.join(qwenHome, 'settings.json'), qwenSettings);
  }
  fs.mkdirSync(path.join(dirs.user, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.user, 'User', 'settings.json'), JSON.stringify({ ...USER_SETTINGS, ...userSettings }, null, 2));
  fs.writeFileSync(path.join(dirs.ws, 'demo.py'), '');
  const env = {
    ...process.env,
    ...extraEnv,
    HOME: dirs.home,
    XDG_CONFIG_HOME: path.join(dirs.xdg, 'config'),
    XDG_DATA_HOME: path.join(dirs.xdg, 'data'),
    XDG_CACHE_HOME: path.join(dirs.xdg, 'cache'),
    XDG_RUNTIME_DIR: dirs.runtime,
    // a daemon left behind by a failed run goes away by itself
    QWEN_LSP_DAEMON_IDLE_TIMEOUT: '60',
    PATH: pathWithoutQwenLsp(),
  };
  for (const k of ['QWEN_HOME', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'VIRTUAL_ENV', 'VSCODE_IPC_HOOK_CLI', 'PYTHONPATH']) delete env[k];
  const cs = process.env.CODE_SERVER || 'code-server';
  const common = ['--extensions-dir', dirs.ext, '--user-data-dir', dirs.user];
  cp.execFileSync(cs, [...common, '--install-extension', vsix], { env, stdio: ['ignore', 'inherit', 'inherit'], timeout: 120000 });
  const installed = fs.readdirSync(dirs.ext).filter((d) => !d.startsWith('.') && d !== 'extensions.json');
  if (installed.length !== 1) throw new Error(`expected only the .vsix's extension, found ${installed.join(', ')}`);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const srv = cp.spawn(cs, [...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry',
    '--disable-update-check', '--disable-getting-started-override',
    ...trustedDomains.flatMap((d) => ['--link-protection-trusted-domains', d]), dirs.ws], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(srv);
  let csLog = '';
  srv.stdout.on('data', (d) => (csLog += d));
  srv.stderr.on('data', (d) => (csLog += d));
  await waitFor(() => /HTTP server listening/.test(csLog), 60000, 'code-server to listen');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://127.0.0.1:${port}` });
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.ws)}`);
  const run = { name, dirs, qwenHome, env, srv, browser, context, page, status: page.locator('.part.statusbar [aria-label^="Qwen status:"]:visible').first() };
  current = run;
  return run;
}

let current; // the scenario running now, for the failure report
const runtimes = []; // every scenario's XDG_RUNTIME_DIR: its daemon is stopped at the end

/** `python -m qwen_lsp daemon <flag>` against a runtime directory (any qwen-lsp of the same
 * version finds the same socket). */
function daemonCtl(runtime, flag, py = python) {
  const r = cp.spawnSync(py, ['-m', 'qwen_lsp', 'daemon', flag], {
    cwd: repoRoot, encoding: 'utf8', timeout: 30000, env: { ...process.env, XDG_RUNTIME_DIR: runtime },
  });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}
const sockets = (runtime) => {
  const d = path.join(runtime, 'qwen-lsp');
  return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.sock')) : [];
};

async function close(run) {
  await run.browser.close().catch(() => undefined);
  run.srv.kill('SIGTERM');
  if (sockets(run.dirs.runtime).length) {
    const stop = daemonCtl(run.dirs.runtime, '--stop');
    step(`[${run.name}] ${stop.out}`);
    await waitFor(() => sockets(run.dirs.runtime).length === 0, 15000, `the daemon of ${run.name} to stop`);
  }
}

async function runCommand(page, title) {
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').waitFor({ timeout: 15000 });
  await page.keyboard.type(title);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 15000 });
  await page.keyboard.press('Enter');
}

const label = async (run) => (await run.status.getAttribute('aria-label')) ?? '';
async function waitLabel(run, re, ms, what) {
  await run.status.waitFor({ timeout: 180000 });
  await waitFor(async () => re.test(await label(run)), ms, `${what} (last: ${await label(run).catch(() => '?')})`);
  step(`[${run.name}] status: ${await label(run)}`);
}

async function pick(page, text) {
  const quick = page.locator('.quick-input-widget');
  await quick.locator('.monaco-list-row', { hasText: text }).first().waitFor({ timeout: 15000 });
  await page.keyboard.type(text);
  await sleep(300);
  await page.keyboard.press('Enter');
}

async function answerInput(page, title, value) {
  const quick = page.locator('.quick-input-widget');
  await quick.locator('.quick-input-title', { hasText: title }).waitFor({ timeout: 15000 });
  await page.keyboard.type(value);
  await page.keyboard.press('Enter');
}

// ------------------------------------------------------------------ newcomer
async function newcomer(upstream) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  // the preset's endpoint is the fake (read from the server's own environment only), which lists
  // the models a Coding Plan endpoint serves
  await json(`${upstream}/_fake/config`, { models: CP_MODELS });
  const run = await launch('newcomer', { env: { QWEN_LSP_PRESET_BASE_URLS: `coding-plan=${upstream}/v1` } });
  const { page } = run;
  await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 120000 });
  step('[newcomer] the folder is open in Restricted Mode');
  // first start sets up the server from the wheels in the .vsix (no network, no pip install)
  await waitLabel(run, /needs sign-in/, 240000, 'status "needs sign-in" from the bundled server');
  const storage = path.join(run.dirs.user, 'User', 'globalStorage');
  const envs = fs.readdirSync(storage).flatMap((d) => {
    const s = path.join(storage, d, 'server');
    return fs.existsSync(s) ? fs.readdirSync(s).map((e) => path.join(s, e)) : [];
  });
  const bundledEnv = envs.find((e) => fs.existsSync(path.join(e, 'qwen-lsp-bundle.json')));
  if (!bundledEnv) throw new Error(`no bundled server environment in ${storage}: ${envs}`);
  step(`[newcomer] bundled server environment: ${envs.map((e) => path.basename(e)).join(', ')}`);
  // the default: the bundled server runs as a session of this user's daemon...
  if (sockets(run.dirs.runtime).length !== 1) throw new Error(`no daemon socket in ${run.dirs.runtime}/qwen-lsp`);
  const status = daemonCtl(run.dirs.runtime, '--status', path.join(bundledEnv, 'bin', 'python'));
  if (status.code !== 0 || !/ 1 session\(s\)/.test(status.out)) throw new Error(`the daemon does not serve the window: ${status.out}`);
  // ... connected to its socket directly: no `qwen-lsp attach` shim of the bundled Python runs
  const shims = fs.readdirSync('/proc').filter((d) => {
    if (!/^\d+$/.test(d)) return false;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      return argv[0].startsWith(bundledEnv) && argv.includes('attach') && !argv.includes('--ensure');
    } catch {
      return false;
    }
  });
  if (shims.length) throw new Error(`the window runs a qwen-lsp attach shim (pid ${shims.join(', ')}), not a direct connection`);
  step(`[newcomer] shared server, connected directly (no shim): ${status.out}`);

  await runCommand(page, 'Qwen: Sign in');
  const quick = page.locator('.quick-input-widget');
  await quick.locator('.monaco-list-row', { hasText: CP_LABEL }).first().waitFor({ timeout: 15000 });
  const cpRow = await quick.locator('.monaco-list-row', { hasText: CP_LABEL }).first().innerText();
  if (!cpRow.includes('sk-sp-') || !/2 regions/.test(cpRow)) throw new Error(`the Coding Plan row lacks its key hint / regions:\n${cpRow}`);
  await pick(page, CP_LABEL);
  await quick.locator('.quick-input-title', { hasText: 'region' }).waitFor({ timeout: 15000 });
  await pick(page, 'China');
  await answerInput(page, 'API key', API_KEY);
  await quick.locator('.quick-input-title', { hasText: 'remember the sign-in' }).waitFor({ timeout: 15000 });
  await pick(page, 'VS Code only');
  await waitLabel(run, /\(signed in\)/, 30000, 'status "signed in" after the Coding Plan key');
  if (fs.existsSync(path.join(run.qwenHome, '.env'))) throw new Error('the key was saved to ~/.qwen/.env although "VS Code only" was chosen');

  await runCommand(page, 'Notifications: Clear All Notifications');
  await run.status.click();
  await quick.locator('.monaco-list-row', { hasText: CP_PICK }).first().waitFor({ timeout: 15000 });
  const pickerText = await quick.locator('.quick-input-list').innerText();
  for (const want of [CP_LABEL, CP_MODELS[0], 'preset']) {
    if (!pickerText.includes(want)) throw new Error(`model picker lacks "${want}":\n${pickerText}`);
  }
  await page.screenshot({ path: path.join(screenshotDir, 'vscode-model-picker.png') });
  await page.keyboard.type(CP_PICK);
  await sleep(300);
  await page.keyboard.press('Enter');
  await waitLabel(run, new RegExp(`^Qwen status: .*${CP_PICK.replace(/[.]/g, '\\.')}.* \\(signed in\\)`), 20000, `status naming ${CP_PICK}`);
  step(`[newcomer] model picker: ${CP_LABEL} models listed (preset); ${CP_PICK} selected`);

  await runCommand(page, 'Notifications: Clear All Notifications');
  await page.keyboard.press('Control+P');
  await sleep(300);
  await page.keyboard.type('demo.py');
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'demo.py' }).first().waitFor({ timeout: 15000 });
  await page.keyboard.press('Enter');
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.waitFor({ timeout: 15000 });
  await editor.locator('.view-lines').click();
  // completions only: the server also lists the endpoint's models in the background
  const chats = async () => (await json(`${upstream}/_fake/requests`)).filter((r) => r.route === 'chat');
  const before = (await chats()).length;
  await page.keyboard.type('def answer():\n', { delay: 20 }); // the editor indents the new line
  const ghosts = page.locator('.ghost-text-decoration, .ghost-text');
  // the ghost text is highlighted token by token: compare without the whitespace between tokens
  const squash = (s) => s.replace(/\s+/g, '');
  await waitFor(async () => squash((await ghosts.allInnerTexts()).join('')).includes(squash(GHOST)), 30000, 'ghost text with the fake reply');
  const ghost = (await ghosts.allInnerTexts()).join(' ');
  if (ghost.includes('```')) throw new Error(`the ghost text has the model's code fences: ${ghost}`);
  step(`[newcomer] ghost text: ${ghost}`);
  const reqs = await chats();
  const last = reqs[reqs.length - 1];
  if (reqs.length <= before || !last) throw new Error('the fake upstream saw no completion request');
  const auth = Object.entries(last.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1] ?? '';
  if (auth !== `Bearer ${API_KEY}`) throw new Error('the completion did not carry the key typed at sign-in');
  const sentModel = JSON.parse(last.body || '{}').model;
  if (sentModel !== CP_PICK) throw new Error(`the completion asked for model ${sentModel}, not the picked ${CP_PICK}`);
  step(`[newcomer] the upstream request carried the typed key and model ${CP_PICK}`);

  await page.keyboard.press('Escape');
  await runCommand(page, 'Qwen: Show Configuration');
  await page.locator('.tab', { hasText: /Preview.*Qwen configuration/ }).first().waitFor({ timeout: 20000 });
  // the preview is a webview (nested iframes): find the rendered heading and a table in it
  let rendered = '';
  await waitFor(async () => {
    for (const f of page.frames()) {
      const html = await f.evaluate(() => (document.querySelector('h1') ? document.body.innerHTML : '')).catch(() => '');
      if (html.includes('effective configuration') && html.includes('<table')) {
        rendered = html;
        return true;
      }
    }
    return false;
  }, 30000, 'the configuration preview to render (heading and tables)');
  if (rendered.includes('sk-sp-fake-e2e')) throw new Error('the configuration preview shows the API key');
  step('[newcomer] "Show Configuration" rendered the configuration beside the editor');
  await run.status.hover();
  await sleep(800);
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, 'vscode-newcomer.png') });
  step(`[newcomer] screenshot: ${path.join(screenshotDir, 'vscode-newcomer.png')}`);
  await close(run);
  await json(`${upstream}/_fake/config`, { models: null });
}

// ------------------------------------------------------------------ broken settings
async function brokenSettings(upstream, oauthBase) {
  const qwenLsp = process.env.QWEN_LSP || cp.execSync('command -v qwen-lsp', { shell: '/bin/sh', encoding: 'utf8' }).trim();
  const marker = path.join(tmpRoot, 'override-ran');
  const wrapper = path.join(tmpRoot, 'qwen-lsp-override.sh');
  fs.writeFileSync(wrapper, `#!/bin/sh\ntouch '${marker}'\nexec '${qwenLsp}' "$@"\n`, { mode: 0o755 });
  const broken = '{\n  "model": {"name": "fake-model"},\n  "security": {"auth": {"selectedType": "openai"}},\n}\n';
  const run = await launch('broken-settings', {
    userSettings: { 'qwen.server.command': wrapper },
    qwenSettings: broken,
    env: { QWEN_OAUTH_BASE_URL: oauthBase, FAKE_KEY: 'sk-fake-e2e-env-1111' },
    trustedDomains: [oauthBase],
  });
  const { page, context } = run;
  await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 120000 });
  await waitLabel(run, /config problem.*settings\.json line \d+/, 120000, 'the status item to name the broken settings.json');
  if (!fs.existsSync(marker)) throw new Error('qwen.server.command from User settings was not used in Restricted Mode');
  if (sockets(run.dirs.runtime).length) throw new Error('qwen.server.command was not run as written: a daemon socket appeared');
  step('[broken-settings] the User setting qwen.server.command ran in Restricted Mode, standalone as written');
  const line = Number(/settings\.json line (\d+)/.exec(await label(run))[1]);
  await runCommand(page, 'Notifications: Clear All Notifications');
  await run.status.click();
  await page.locator('.tab', { hasText: 'settings.json' }).first().waitFor({ timeout: 15000 });
  await page.locator('.statusbar-item', { hasText: new RegExp(`Ln ${line}, Col 1`) }).first().waitFor({ timeout: 15000 });
  step(`[broken-settings] clicking the status item opened settings.json at line ${line}`);
  await page.mouse.move(640, 300); // let the status item's hover close
  await page.screenshot({ path: path.join(screenshotDir, 'vscode-broken-settings.png') });

  fs.writeFileSync(path.join(run.qwenHome, 'settings.json'), JSON.stringify({
    modelProviders: {
      openai: [
        { id: 'fake-model', name: 'Fake', envKey: 'FAKE_KEY', baseUrl: `${upstream}/v1` },
        { id: 'fake-model-2', name: 'Fake Two', envKey: 'FAKE_KEY', baseUrl: `${upstream}/v1` },
      ],
      anthropic: [{ id: 'claude-nokey', name: 'Claude Without Key', envKey: 'QWEN_E2E_UNSET_KEY', baseUrl: upstream }],
    },
    security: { auth: { selectedType: 'qwen-oauth' } },
  }, null, 2));
  await waitLabel(run, /^Qwen status: (?!.*config problem).*\(needs sign-in\)/, 30000, 'the problem to go once the file is fixed');

  await runCommand(page, 'Qwen: Sign in');
  await pick(page, 'Qwen OAuth');
  const toast = page.locator('.notification-toast', { hasText: 'Qwen sign-in: enter code' }).first();
  await toast.waitFor({ timeout: 20000 });
  const userCode = /enter code (\S+)/.exec(await toast.innerText())?.[1];
  if (!userCode) throw new Error('no user code in the notification');
  const popupP = context.waitForEvent('page', { timeout: 20000 });
  popupP.catch(() => undefined); // awaited below; a timeout is reported there
  await toast.getByRole('button', { name: 'Copy code & open browser' }).click();
  const openBtn = page.getByRole('button', { name: 'Open', exact: true });
  const popup = await Promise.race([
    popupP,
    openBtn.waitFor({ timeout: 5000 }).then(async () => {
      await openBtn.click();
      return popupP;
    }, () => popupP),
  ]);
  await popup.waitForLoadState();
  if (!popup.url().startsWith(oauthBase)) throw new Error(`the sign-in page opened at an unexpected URL: ${popup.url()}`);
  const shownCode = (await popup.locator('#code').innerText()).trim();
  if (shownCode !== userCode) throw new Error(`page shows code ${shownCode}, notification showed ${userCode}`);
  await popup.click('#approve');
  await popup.locator('#done').waitFor({ timeout: 10000 });
  await popup.close();
  step(`[broken-settings] Qwen OAuth code ${userCode} approved in the browser`);
  await waitLabel(run, /\(signed in\)/, 30000, 'signed in after approval');
  if (!fs.existsSync(path.join(run.qwenHome, 'oauth_creds.json'))) throw new Error('no oauth_creds.json after sign-in');

  await run.status.click();
  const rows = page.locator('.quick-input-widget .quick-input-list');
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Fake Two' }).first().waitFor({ timeout: 15000 });
  const rowsText = await rows.innerText();
  for (const want of ['OpenAI-compatible', 'Anthropic', 'Claude Without Key', 'no credentials']) {
    if (!rowsText.includes(want)) throw new Error(`model picker lacks "${want}":\n${rowsText}`);
  }
  await page.keyboard.type('Fake Two');
  await sleep(300);
  await page.keyboard.press('Enter');
  await waitLabel(run, /^Qwen status: Fake Two \(signed in\)$/, 20000, 'status "Fake Two"');
  if (!fs.readFileSync(path.join(run.qwenHome, 'settings.json'), 'utf8').includes('fake-model-2')) throw new Error('selection was not persisted');
  await close(run);
}

async function main() {
  if (!vsix || !fs.existsSync(vsix)) throw new Error(`no .vsix (${vsix}): run scripts/package.sh first`);
  const upPort = await startFake('tests.fakes.llm_upstream', ['--port', '0']);
  const upstream = `http://127.0.0.1:${upPort}`;
  const oauthBase = await startFake('tests.fakes.oauth_server', ['--port', '0', '--host', '127.0.0.2', '--interval', '1', '--exit-on-stdin-eof']);
  if (!oauthBase.startsWith('http://127.0.0.2:')) throw new Error(`oauth fake did not bind 127.0.0.2: ${oauthBase}`);
  // every chat completion answers with the same fenced text: the ghost text must come without it
  await json(`${upstream}/_fake/script`, { route: 'chat', behaviours: Array.from({ length: 300 }, () => ({ text: FENCED })) });
  step(`fakes up: upstream ${upstream}, oauth ${oauthBase}; vsix ${vsix}`);
  const only = process.env.E2E_ONLY;
  if (!only || only === 'newcomer') await newcomer(upstream);
  if (!only || only === 'broken-settings') await brokenSettings(upstream, oauthBase);
}

function cleanup() {
  for (const c of children.reverse()) {
    try {
      c.stdin?.end();
      c.kill('SIGTERM');
    } catch {
      /* already gone */
    }
  }
  for (const r of runtimes) {
    if (sockets(r).length) daemonCtl(r, '--stop');
    fs.rmSync(r, { recursive: true, force: true });
  }
  if (!process.env.KEEP_TMP) fs.rmSync(tmpRoot, { recursive: true, force: true });
}

const deadline = setTimeout(() => {
  console.error('[e2e] FAIL: overall deadline of 480 s exceeded');
  cleanup();
  process.exit(1);
}, 480000);

main().then(
  () => {
    clearTimeout(deadline);
    console.log(`ok - VS Code e2e (code-server, only the .vsix installed) passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    cleanup();
    process.exit(0);
  },
  async (e) => {
    clearTimeout(deadline);
    console.error('[e2e] FAIL:', e?.stack ?? e);
    if (current) {
      const shot = path.join(screenshotDir, `failure-${current.name}.png`);
      fs.mkdirSync(screenshotDir, { recursive: true });
      await current.page.screenshot({ path: shot }).then(() => console.error(`[e2e] failure screenshot: ${shot}`), () => undefined);
      const logs = path.join(current.dirs.user, 'logs');
      if (fs.existsSync(logs)) {
        for (const f of cp.execSync(`find ${logs} -name '*Qwen*.log' -o -name 'exthost.log'`).toString().split('\n').filter(Boolean)) {
          console.error(`----- ${f}\n${fs.readFileSync(f, 'utf8').split('\n').slice(-60).join('\n')}`);
        }
      }
      await current.browser.close().catch(() => undefined);
    }
    cleanup();
    process.exit(1);
  },
);
