// Pure: decide how to start qwen-lsp — the user's `qwen.server.command` (run as written), else
// the server this .vsix carries as a session of the per-user daemon: connected to its socket
// directly (`qwen.server.shared` true, the default) or through the `qwen-lsp attach` shim
// ("shim"), unless `qwen.server.shared` is off.
import * as path from 'path';
import { BundleManifest } from './bundledServer';

export type LaunchPlan =
  | { kind: 'override'; command: string; args: string[]; shared: boolean; standaloneArgs?: string[] }
  | {
      kind: 'bundled';
      manifest: BundleManifest;
      args: string[];
      shared: boolean;
      standaloneArgs?: string[];
      /** connect to the daemon's socket (after `attach --ensure`) instead of running `args` */
      direct?: boolean;
    }
  | { kind: 'error'; message: string };

function expandHome(p: string, home?: string): string {
  if (home && (p === '~' || p.startsWith('~/'))) return path.join(home, p.slice(1));
  return p;
}

export const NO_BUNDLE_MESSAGE =
  'Qwen: this copy of the extension carries no qwen-lsp server (it was not packaged with ' +
  'editors/vscode/scripts/package.sh). Install a .vsix built by that script, or set "qwen.server.command" ' +
  'in your User settings to a qwen-lsp executable.';

/** The subcommand that runs a window's server through the per-user daemon. */
export const ATTACH = 'attach';

/** The same arguments without `attach`: what a standalone server is given when the shared one
 * cannot start (qwen-lsp takes the same flags either way). */
export function withoutAttach(args: string[]): string[] {
  const i = args.indexOf(ATTACH);
  return i < 0 ? args : [...args.slice(0, i), ...args.slice(i + 1)];
}

/** The values `qwen.server.shared` takes. */
export type SharedMode = boolean | 'shim';

export function planLaunch(i: {
  configured: string;
  args: string[];
  /** `qwen.server.shared`: true = direct, "shim" = through `qwen-lsp attach`, false = standalone */
  shared?: SharedMode;
  homeDir?: string;
  manifest?: BundleManifest;
  platform?: NodeJS.Platform;
}): LaunchPlan {
  const configured = i.configured.trim();
  if (configured) {
    // as written: `attach` in qwen.server.args opts a server of the user's own into the daemon
    const shared = i.args.includes(ATTACH);
    return { kind: 'override', command: expandHome(configured, i.homeDir), args: i.args, shared, ...(shared ? { standaloneArgs: withoutAttach(i.args) } : {}) };
  }
  if (!i.manifest) return { kind: 'error', message: NO_BUNDLE_MESSAGE };
  // the daemon needs Unix sockets and fork: Windows keeps a standalone server per window
  const mode = i.shared ?? true;
  const shared = mode !== false && (i.platform ?? process.platform) !== 'win32' && !i.args.includes(ATTACH);
  if (shared) {
    return { kind: 'bundled', manifest: i.manifest, args: [ATTACH, ...i.args], shared: true, standaloneArgs: i.args, ...(mode === true ? { direct: true } : {}) };
  }
  return { kind: 'bundled', manifest: i.manifest, args: i.args, shared: i.args.includes(ATTACH), ...(i.args.includes(ATTACH) ? { standaloneArgs: withoutAttach(i.args) } : {}) };
}

/** What the shim wrote on stderr when it could not reach the daemon (it exits 2 then): its own
 * line, without the program name, else the last line it wrote. */
export function attachFailureMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const own = lines.filter((l) => l.startsWith('qwen-lsp attach:')).pop();
  return (own ? own.slice('qwen-lsp attach:'.length).trim() : lines.pop()) ?? 'it exited with code 2 and wrote nothing';
}

/** The exit code with which `qwen-lsp attach` says it could not reach (or start) the daemon. */
export const ATTACH_FAILED_EXIT = 2;

/** The launch flags of qwen-lsp, by the name `qwen-lsp attach` gives them in its hello. */
const LAUNCH_FLAGS: Record<string, string> = {
  '--auth-type': 'authType',
  '--model': 'model',
  '-m': 'model',
  '--openai-api-key': 'openaiApiKey',
  '--openai-base-url': 'openaiBaseUrl',
  '--proxy': 'proxy',
  '--retry-base-ms': 'retryBaseMs',
};
/** Other flags of qwen-lsp that take a value: accepted on a shim's command line, meaningless to a
 * session (the daemon's log level, a standalone server's TCP port, ...). */
const OTHER_VALUE_FLAGS = new Set(['--log-level', '--log-file', '--host', '--port', '--idle-timeout', '--workspace']);
const OTHER_SWITCHES = new Set(['--stdio', '--tcp', '--json', '--stop', '--status']);

function retryBaseOk(v: string): boolean {
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) && n >= 0 && n <= 60_000;
}

export interface DirectLaunch {
  /** `initializationOptions.qwenSession.launch`: what `qwen-lsp attach <args>` sends in its hello */
  launch: Record<string, unknown>;
  /** for the extension's log: what the shim would have done that a direct session does not */
  notes: string[];
}

/** `qwen.server.args` as the `launch` of a direct session, in the form the shim sends it
 * (server/qwen_lsp/__main__.py: `_attach_fast`, else argparse and `launchProblems`): flag values
 * as strings under their option names; unknown flags or unreadable values become
 * `launchProblems`, which the server reports like the shim's, naming flags, never values. */
export function launchFromArgs(args: string[]): DirectLaunch {
  const launch: Record<string, unknown> = {};
  const notes: string[] = [];
  const unknown: string[] = [];
  let stray = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.startsWith('-') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const key = LAUNCH_FLAGS[name];
    const takesValue = key !== undefined || OTHER_VALUE_FLAGS.has(name);
    let value: string | undefined;
    if (takesValue) {
      if (eq > 0) value = a.slice(eq + 1);
      else if (i + 1 < args.length && !/^-[^\d.]/.test(args[i + 1])) value = args[++i];
      if (value === undefined || (key === 'retryBaseMs' && !retryBaseOk(value))) {
        // as argparse: one unreadable flag and none of them applies
        const what = key === 'model' ? '--model/-m' : name;
        return { launch: { launchProblems: [`the launch flags could not be read (argument ${what}); all of them are ignored`] }, notes };
      }
    }
    if (key !== undefined) {
      launch[key] = value;
    } else if (name === '--log-file') {
      notes.push('qwen.server.args: --log-file is written by the `qwen-lsp attach` shim only; a direct session logs to the daemon\'s log (set "qwen.server.shared" to "shim" to keep the file)');
    } else if (takesValue || OTHER_SWITCHES.has(name)) {
      continue;
    } else if (a.startsWith('-')) {
      unknown.push(name);
    } else {
      stray++;
    }
  }
  if (unknown.length || stray) {
    const what = unknown.join(', ') + (stray ? ` (and ${stray} value(s))` : '');
    launch.launchProblems = [`unknown launch flag(s) ignored: ${what || `${stray} value(s)`}`];
  }
  return { launch, notes };
}

/** The socket `qwen-lsp attach --ensure` printed, or why there is none. */
export function parseEnsureOutput(stdout: string): { socket: string } | { error: string } {
  const line = stdout.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
  try {
    const info = JSON.parse(line) as unknown;
    const socket = (info as { socket?: unknown } | null)?.socket;
    if (typeof socket === 'string' && socket) return { socket };
  } catch {
    // below
  }
  return { error: 'it printed no socket (is this qwen-lsp older than the extension?)' };
}
