// The qwen-lsp server this .vsix carries: wheels for one platform and CPython 3.11-3.13 in
// bundled/ (written by scripts/package.sh), installed on first start into a private environment
// under the extension's global storage, offline (`pip install --no-index`), and reused until the
// bundle changes. No `vscode` import: the glue passes paths and a process runner.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export interface BundleManifest {
  /** qwen-lsp version in the bundle */
  serverVersion: string;
  /** `vsce --target` the wheels were downloaded for, e.g. linux-x64 */
  target: string;
  /** CPython minor versions with wheels, e.g. ["3.11", "3.12", "3.13"] */
  pythons: string[];
  /** pip's wheel, run from the zip to install into an environment that has no pip */
  pipWheel: string;
  /** hash of every carried wheel: a new bundle gets a new environment */
  id: string;
}

export const BUNDLE_DIR = 'bundled';
const MARKER = 'qwen-lsp-bundle.json';

export function readManifest(extensionPath: string): BundleManifest | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(extensionPath, BUNDLE_DIR, 'manifest.json'), 'utf8'));
    if (typeof m?.serverVersion === 'string' && Array.isArray(m.pythons) && typeof m.id === 'string' && typeof m.pipWheel === 'string') {
      return m as BundleManifest;
    }
  } catch {
    /* no bundle: a development build */
  }
  return undefined;
}

/** One environment per bundle and interpreter (major.minor and its path). */
export function envDirName(m: BundleManifest, python: string, version: [number, number, number]): string {
  const h = crypto.createHash('sha256').update(`${m.id}\n${python}`).digest('hex').slice(0, 10);
  return `qwen-lsp-${m.serverVersion}-py${version[0]}${version[1]}-${h}`;
}

export function envPython(envDir: string, platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? path.join(envDir, 'Scripts', 'python.exe') : path.join(envDir, 'bin', 'python');
}

export function isEnvReady(envDir: string, m: BundleManifest): boolean {
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(envDir, MARKER), 'utf8'));
    return marker?.id === m.id && fs.existsSync(envPython(envDir));
  } catch {
    return false;
  }
}

export type Runner = (command: string, args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>;

function tail(s: string, n = 12): string {
  return s.trim().split('\n').slice(-n).join('\n');
}

/**
 * Build the environment in a temporary directory and move it into place, so a window that starts
 * at the same time, or a build that was interrupted, never leaves a half-installed one behind.
 */
export async function buildEnv(o: {
  extensionPath: string;
  manifest: BundleManifest;
  python: string;
  envDir: string;
  run: Runner;
  platform?: NodeJS.Platform;
}): Promise<void> {
  const bundle = path.join(o.extensionPath, BUNDLE_DIR);
  const parent = path.dirname(o.envDir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, '.building-'));
  try {
    // --without-pip: Debian's python3 has no ensurepip unless python3-venv is installed; pip runs
    // from the carried wheel instead.
    let r = await o.run(o.python, ['-m', 'venv', '--without-pip', tmp]);
    if (r.code !== 0) throw new Error(`"${o.python} -m venv" failed (exit ${r.code}): ${tail(r.stderr || r.stdout)}`);
    const py = envPython(tmp, o.platform);
    const pip = path.join(bundle, o.manifest.pipWheel, 'pip');
    r = await o.run(py, [
      pip, 'install', '--no-index', '--find-links', path.join(bundle, 'wheels'), '--disable-pip-version-check',
      '--no-warn-script-location', '--no-input', `qwen-lsp==${o.manifest.serverVersion}`,
    ]);
    if (r.code !== 0) throw new Error(`installing the bundled wheels failed (exit ${r.code}): ${tail(r.stderr || r.stdout)}`);
    r = await o.run(py, ['-m', 'qwen_lsp', '--version']);
    if (r.code !== 0) throw new Error(`the installed server does not run (exit ${r.code}): ${tail(r.stderr || r.stdout)}`);
    fs.writeFileSync(path.join(tmp, MARKER), JSON.stringify({ id: o.manifest.id, serverVersion: o.manifest.serverVersion, python: o.python }));
    if (fs.existsSync(o.envDir)) fs.rmSync(o.envDir, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, o.envDir);
    } catch (e) {
      if (!isEnvReady(o.envDir, o.manifest)) throw e; // another window finished first: use its copy
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Environments of other bundles (older versions) and abandoned builds are removed. */
export function removeStaleEnvs(parent: string, m: BundleManifest, now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return removed;
  }
  for (const n of names) {
    const full = path.join(parent, n);
    // a build of another window may be running right now: only old leftovers go
    const stale = n.startsWith('.building-')
      ? now - fs.statSync(full).mtimeMs > 30 * 60_000
      : n.startsWith('qwen-lsp-') && !isEnvReady(full, m);
    if (stale) {
      fs.rmSync(full, { recursive: true, force: true });
      removed.push(n);
    }
  }
  return removed;
}
