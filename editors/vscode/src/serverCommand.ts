// Pure: decide how to start qwen-lsp — the user's `qwen.server.command` (run as written), else
// the server this .vsix carries, as `qwen-lsp attach` (one shared daemon for all windows) unless
// `qwen.server.shared` is off.
import * as path from 'path';
import { BundleManifest } from './bundledServer';

export type LaunchPlan =
  | { kind: 'override'; command: string; args: string[]; shared: boolean; standaloneArgs?: string[] }
  | { kind: 'bundled'; manifest: BundleManifest; args: string[]; shared: boolean; standaloneArgs?: string[] }
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

export function planLaunch(i: {
  configured: string;
  args: string[];
  shared?: boolean;
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
  const shared = (i.shared ?? true) && (i.platform ?? process.platform) !== 'win32' && !i.args.includes(ATTACH);
  if (shared) return { kind: 'bundled', manifest: i.manifest, args: [ATTACH, ...i.args], shared: true, standaloneArgs: i.args };
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
