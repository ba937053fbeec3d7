// End to end in a real VS Code host: code-server + headless Debian chromium (playwright-core).
// The packaged .vsix is installed, finds `qwen-lsp` on PATH and starts it against loopback fakes:
// tests.fakes.llm_upstream (OpenAI-compatible) and tests.fakes.oauth_server (Qwen device flow on
// 127.0.0.2, which code-server does not rewrite to its proxy).
//
//   1. status bar says "needs sign-in" (selectedType qwen-oauth, no token yet)
//   2. palette "Qwen: Sign in" -> "Qwen OAuth" -> notification with the user code ->
//      "Copy code & open browser" -> the fake's page opens in a new tab -> Approve ->
//      status bar shows the Qwen OAuth model, signed in; the clipboard holds the code
//   3. click the status bar -> model quick pick grouped by protocol, the key-less model flagged ->
//      pick "Fake Two" -> status bar shows it
//   4. type in a file -> ghost text from the fake upstream appears; the fake saw FAKE_KEY
//   5. screenshot -> SCREENSHOT (docs/images/vscode-statusbar.png)
//
// Env: CODE_SERVER (code-server bin), NODE24_BIN (dir with node 24), VSIX, REPO_ROOT (for
// `python -m tests.fakes.*`), PYTHON (default: python on PATH), CHROMIUM, SCREENSHOT, KEEP_TMP=1.
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
const vsix = process.env.VSIX || path.join(extDir, 'qwen-lsp-vscode.vsix');
const python = process.env.PYTHON || 'python';
const screenshot = process.env.SCREENSHOT || path.join(repoRoot, 'docs', 'images', 'vscode-statusbar.png');
const GHOST = 'return 42  # qwen ghost';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen-cs-e2e-'));
const dirs = Object.fromEntries(['home', 'ext', 'user', 'ws', 'xdg'].map((d) => [d, path.join(tmp, d)]));
Object.values(dirs).forEach((d) => fs.mkdirSync(d, { recursive: true }));
const qwenHome = path.join(dirs.home, '.qwen');
fs.mkdirSync(qwenHome, { recursive: true });

const children = [];
const t0 = Date.now();
let stepStart = Date.now();
const step = (name) => {
  const now = Date.now();
  console.log(`[e2e] ${name} (+${((now - stepStart) / 1000).toFixed(1)} s since previous step)`);
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

let browser;
let page;
async function main() {
  // ------------------------------------------------------------------ fakes
  const upPort = await startFake('tests.fakes.llm_upstream', ['--port', '0']);
  const upstream = `http://127.0.0.1:${upPort}`;
  const oauthBase = await startFake('tests.fakes.oauth_server', ['--port', '0', '--host', '127.0.0.2', '--interval', '1', '--exit-on-stdin-eof']);
  if (!oauthBase.startsWith('http://127.0.0.2:')) throw new Error(`oauth fake did not bind 127.0.0.2: ${oauthBase}`);
  // every chat completion answers with the same short text, so the ghost text is predictable
  await json(`${upstream}/_fake/script`, { route: 'chat', behaviours: Array.from({ length: 200 }, () => ({ text: GHOST })) });
  step(`fakes up: upstream ${upstream}, oauth ${oauthBase}`);

  fs.writeFileSync(path.join(qwenHome, 'settings.json'), JSON.stringify({
    modelProviders: {
      openai: [
        { id: 'fake-model', name: 'Fake', envKey: 'FAKE_KEY', baseUrl: `${upstream}/v1` },
        { id: 'fake-model-2', name: 'Fake Two', envKey: 'FAKE_KEY', baseUrl: `${upstream}/v1` },
      ],
      anthropic: [{ id: 'claude-nokey', name: 'Claude Without Key', envKey: 'QWEN_E2E_UNSET_KEY', baseUrl: upstream }],
    },
    security: { auth: { selectedType: 'qwen-oauth' } },
  }, null, 2));
  // code-server's extension host resolves a login-shell environment, and Debian's /etc/profile
  // resets PATH, so the extension finds qwen-lsp through the Python environment setting (the venv
  // holding qwen-lsp), one of its documented discovery paths.
  const qwenLsp = cp.execSync('command -v qwen-lsp', { shell: '/bin/sh', encoding: 'utf8' }).trim();
  const venvPython = path.join(path.dirname(qwenLsp), 'python');
  if (!fs.existsSync(venvPython)) throw new Error(`no python next to ${qwenLsp}`);
  fs.mkdirSync(path.join(dirs.user, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.user, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'telemetry.telemetryLevel': 'off',
    'security.workspace.trust.enabled': false,
    'extensions.autoUpdate': false,
    'editor.inlineSuggest.enabled': true,
    'qwen.inlineCompletions.debounceMs': 100,
    'qwen.trace.server': 'messages',
    'python.defaultInterpreterPath': venvPython,
    'chat.disableAIFeatures': true,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
  }, null, 2));
  fs.writeFileSync(path.join(dirs.ws, 'demo.py'), '');

  const env = {
    ...process.env,
    HOME: dirs.home,
    QWEN_HOME: qwenHome,
    QWEN_OAUTH_BASE_URL: oauthBase,
    FAKE_KEY: 'sk-fake-e2e-0000-abcd',
    XDG_CONFIG_HOME: path.join(dirs.xdg, 'config'),
    XDG_DATA_HOME: path.join(dirs.xdg, 'data'),
    XDG_CACHE_HOME: path.join(dirs.xdg, 'cache'),
    PATH: `${process.env.NODE24_BIN ? process.env.NODE24_BIN + ':' : ''}${process.env.PATH}`,
  };
  delete env.QWEN_E2E_UNSET_KEY;
  delete env.OPENAI_API_KEY;
  delete env.VSCODE_IPC_HOOK_CLI;

  // ------------------------------------------------------------------ code-server
  const cs = process.env.CODE_SERVER || 'code-server';
  const common = ['--extensions-dir', dirs.ext, '--user-data-dir', dirs.user];
  cp.execFileSync(cs, [...common, '--install-extension', vsix], { env, stdio: ['ignore', 'inherit', 'inherit'], timeout: 120000 });
  step('vsix installed');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const srv = cp.spawn(cs, [...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry',
    '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--link-protection-trusted-domains', `${oauthBase}`, dirs.ws], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(srv);
  let csLog = '';
  srv.stdout.on('data', (d) => (csLog += d));
  srv.stderr.on('data', (d) => (csLog += d));
  await waitFor(() => /HTTP server listening/.test(csLog), 60000, 'code-server to listen');
  step('code-server listening');

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://127.0.0.1:${port}` });
  page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.ws)}`);

  // ------------------------------------------------------------------ 1. needs sign-in
  const status = page.locator('[aria-label^="Qwen status:"]').first();
  await status.waitFor({ timeout: 120000 });
  await waitFor(async () => /needs sign-in/.test((await status.getAttribute('aria-label')) ?? ''), 60000,
    'status bar to say "needs sign-in"');
  step(`status bar: ${await status.getAttribute('aria-label')}`);

  // ------------------------------------------------------------------ 2. sign in with Qwen OAuth
  await runCommand('Qwen: Sign in');
  const quick = page.locator('.quick-input-widget');
  await quick.locator('.monaco-list-row', { hasText: 'Qwen OAuth' }).first().waitFor({ timeout: 15000 });
  await page.keyboard.type('Qwen OAuth');
  await sleep(300);
  await page.keyboard.press('Enter');
  const toast = page.locator('.notification-toast', { hasText: 'Qwen sign-in: enter code' }).first();
  await toast.waitFor({ timeout: 20000 });
  const toastText = await toast.innerText();
  const userCode = /enter code (\S+)/.exec(toastText)?.[1];
  if (!userCode) throw new Error(`no user code in the notification: ${toastText}`);
  step(`notification shows user code ${userCode}`);
  const popupP = context.waitForEvent('page', { timeout: 20000 });
  await toast.getByRole('button', { name: 'Copy code & open browser' }).click();
  // link protection should not ask (trusted domain); click Open if a host version still does
  const openBtn = page.getByRole('button', { name: 'Open', exact: true });
  const popup = await Promise.race([
    popupP,
    openBtn.waitFor({ timeout: 5000 }).then(async () => {
      console.log('[e2e] link-protection dialog shown: clicking Open');
      await openBtn.click();
      return popupP;
    }, () => popupP),
  ]);
  await popup.waitForLoadState();
  const url = popup.url();
  if (!url.startsWith(oauthBase)) throw new Error(`the sign-in page opened at an unexpected URL: ${url}`);
  const shownCode = (await popup.locator('#code').innerText()).trim();
  if (shownCode !== userCode) throw new Error(`page shows code ${shownCode}, notification showed ${userCode}`);
  step(`browser opened ${url}`);
  await popup.click('#approve');
  await popup.locator('#done').waitFor({ timeout: 10000 });
  await popup.close();
  step('approved in the browser');
  await waitFor(async () => /\(signed in\)$/.test((await status.getAttribute('aria-label')) ?? ''), 30000,
    'status bar to say signed in after approval');
  const afterSignIn = await status.getAttribute('aria-label');
  step(`status bar: ${afterSignIn}`);
  if (/^Qwen status: Qwen \(/.test(afterSignIn)) throw new Error(`status bar does not name a model: ${afterSignIn}`);
  const clip = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => `unreadable: ${e}`);
  if (clip !== userCode) console.log(`[e2e] note: clipboard holds "${clip}", not the user code`);
  const creds = path.join(qwenHome, 'oauth_creds.json');
  if (!fs.existsSync(creds)) throw new Error('no oauth_creds.json after sign-in');

  // ------------------------------------------------------------------ 3. switch model from the status bar
  await status.click();
  await quick.locator('.monaco-list-row', { hasText: 'Fake Two' }).first().waitFor({ timeout: 15000 });
  const rowsText = await quick.locator('.quick-input-list').innerText();
  for (const want of ['OpenAI-compatible', 'Anthropic', 'Claude Without Key', 'no credentials']) {
    if (!rowsText.includes(want)) throw new Error(`model picker lacks "${want}":\n${rowsText}`);
  }
  await page.keyboard.type('Fake Two');
  await sleep(300);
  await page.keyboard.press('Enter');
  await waitFor(async () => /^Qwen status: Fake Two \(signed in\)$/.test((await status.getAttribute('aria-label')) ?? ''), 20000,
    'status bar to show "Fake Two"');
  step(`status bar: ${await status.getAttribute('aria-label')}`);
  const saved = fs.readFileSync(path.join(qwenHome, 'settings.json'), 'utf8');
  if (!saved.includes('fake-model-2')) throw new Error('selection was not persisted to settings.json');

  // ------------------------------------------------------------------ 4. inline completion
  await runCommand('Notifications: Clear All Notifications');
  await page.keyboard.press('Control+P');
  await sleep(300);
  await page.keyboard.type('demo.py');
  await quick.locator('.monaco-list-row', { hasText: 'demo.py' }).first().waitFor({ timeout: 15000 });
  await page.keyboard.press('Enter');
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.waitFor({ timeout: 15000 });
  await editor.locator('.view-lines').click();
  const before = (await json(`${upstream}/_fake/requests`)).length;
  await page.keyboard.type('def answer():\n', { delay: 20 }); // the editor indents the new line
  const ghost = page.locator('.ghost-text-decoration, .ghost-text').first();
  await ghost.waitFor({ timeout: 30000 });
  await waitFor(async () => (await page.locator('.ghost-text-decoration, .ghost-text').allInnerTexts()).join('').includes('42'), 10000,
    'ghost text to contain the fake reply');
  step(`ghost text: ${(await page.locator('.ghost-text-decoration, .ghost-text').allInnerTexts()).join('')}`);
  const reqs = await json(`${upstream}/_fake/requests`);
  const last = reqs[reqs.length - 1];
  if (reqs.length <= before || !last) throw new Error('the fake upstream saw no completion request');
  const auth = Object.entries(last.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1] ?? '';
  if (!String(auth).includes('sk-fake-e2e-0000-abcd')) throw new Error(`completion went out without FAKE_KEY: ${auth}`);
  if (!last.body.includes('fake-model-2')) throw new Error(`completion did not use the selected model: ${last.body.slice(0, 200)}`);
  step('upstream request used fake-model-2 with FAKE_KEY');

  // ------------------------------------------------------------------ 5. screenshot
  await status.hover();
  await page.locator('.monaco-hover, .monaco-workbench .hover-contents, .workbench-hover').first().waitFor({ timeout: 5000 }).catch(() => undefined);
  await sleep(300);
  fs.mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
  step(`screenshot saved: ${screenshot}`);
}

async function runCommand(title) {
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').waitFor({ timeout: 15000 });
  await page.keyboard.type(title);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 15000 });
  await page.keyboard.press('Enter');
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
  if (!process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
}

const deadline = setTimeout(() => {
  console.error('[e2e] FAIL: overall deadline of 300 s exceeded');
  cleanup();
  process.exit(1);
}, 300000);

main().then(
  async () => {
    clearTimeout(deadline);
    await browser?.close();
    console.log(`ok - VS Code e2e (code-server) passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    cleanup();
    process.exit(0);
  },
  async (e) => {
    clearTimeout(deadline);
    console.error('[e2e] FAIL:', e?.stack ?? e);
    const shot = path.join(os.tmpdir(), `qwen-cs-e2e-failure-${process.pid}.png`);
    await page?.screenshot({ path: shot }).then(() => console.error(`[e2e] failure screenshot: ${shot}`), () => undefined);
    const logs = path.join(dirs.user, 'logs');
    if (fs.existsSync(logs)) {
      for (const f of cp.execSync(`find ${logs} -name '*Qwen*.log' -o -name 'exthost.log'`).toString().split('\n').filter(Boolean)) {
        console.error(`----- ${f}\n${fs.readFileSync(f, 'utf8').split('\n').slice(-60).join('\n')}`);
      }
    }
    await browser?.close().catch(() => undefined);
    process.env.KEEP_TMP = process.env.KEEP_TMP || '';
    cleanup();
    process.exit(1);
  },
);
