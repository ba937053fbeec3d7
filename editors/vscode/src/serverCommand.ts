// Pure: decide how to start qwen-lsp — the user's `qwen.server.command`, else the server this
// .vsix carries.
import * as path from 'path';
import { BundleManifest } from './bundledServer';

export type LaunchPlan =
  | { kind: 'override'; command: string; args: string[] }
  | { kind: 'bundled'; manifest: BundleManifest; args: string[] }
  | { kind: 'error'; message: string };

function expandHome(p: string, home?: string): string {
  if (home && (p === '~' || p.startsWith('~/'))) return path.join(home, p.slice(1));
  return p;
}

export const NO_BUNDLE_MESSAGE =
  'Qwen: this copy of the extension carries no qwen-lsp server (it was not packaged with ' +
  'editors/vscode/scripts/package.sh). Install a .vsix built by that script, or set "qwen.server.command" ' +
  'in your User settings to a qwen-lsp executable.';

export function planLaunch(i: { configured: string; args: string[]; homeDir?: string; manifest?: BundleManifest }): LaunchPlan {
  const configured = i.configured.trim();
  if (configured) return { kind: 'override', command: expandHome(configured, i.homeDir), args: i.args };
  if (i.manifest) return { kind: 'bundled', manifest: i.manifest, args: i.args };
  return { kind: 'error', message: NO_BUNDLE_MESSAGE };
}
