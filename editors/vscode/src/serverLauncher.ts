// VS Code glue: turn the settings and the bundle into the command vscode-languageclient starts.
// First start with the bundled server builds its private environment behind a progress
// notification; later starts reuse it.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Executable } from 'vscode-languageclient/node';
import { buildEnv, BundleManifest, envDirName, envPython, isEnvReady, readManifest, removeStaleEnvs, Runner } from './bundledServer';
import { choosePython, parseProbe, PROBE_SCRIPT, pythonCandidates } from './python';
import { launchFromArgs, planLaunch } from './serverCommand';
import { serverSettings } from './settings';

export type Launch =
  | {
      ok: true;
      exe: Executable;
      description: string;
      /** the command is `qwen-lsp attach`: the window is a session of the per-user daemon */
      shared: boolean;
      /** the same server without `attach`, for when the shared one cannot start */
      standalone?: Executable;
      /** the setting that turns the shared server off for this launch */
      optOut?: string;
      /** connect to the daemon's socket instead of running `exe` (the shim) */
      direct?: DirectPlan;
    }
  | { ok: false; message: string; reason: string };

/** A window's direct session: how to learn the daemon's socket, and what `qwen-lsp attach`
 * would have sent in its hello (sent in `initialize` instead). */
export interface DirectPlan {
  /** `qwen-lsp attach --ensure` with this bundled Python */
  ensure: Executable;
  /** `initializationOptions.qwenSession` without `cwd`: the extension host's environment as the
   * shim would have had it, and qwen.server.args as launch flags. Built at each connect: it is
   * the user's environment, keys included, so it is kept nowhere and never logged. */
  session(): { env: Record<string, string>; launch: Record<string, unknown> };
}

/** The environment pip and Python run in: nothing from the user's shell that redirects them. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PIP_') || k === 'PYTHONHOME' || k === 'PYTHONPATH' || k === 'VIRTUAL_ENV') continue;
    env[k] = v;
  }
  env.PYTHONNOUSERSITE = '1';
  return env;
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string' && k && !k.includes('=')) out[k] = v;
  return out;
}

const run =
  (timeoutMs: number): Runner =>
  (command, args) =>
    new Promise((resolve) => {
      cp.execFile(command, args, { env: cleanEnv(), timeout: timeoutMs, maxBuffer: 16 << 20, windowsHide: true }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && code === null ? err.message : '')) });
      });
    });

function isExecutable(f: string): boolean {
  try {
    fs.accessSync(f, fs.constants.X_OK);
    return fs.statSync(f).isFile();
  } catch {
    return false;
  }
}

async function pythonExtensionInterpreter(log: vscode.LogOutputChannel): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension('ms-python.python');
  if (!ext) return undefined;
  try {
    const api = ext.isActive ? ext.exports : await ext.activate();
    const envs = api?.environments;
    const active = envs?.getActiveEnvironmentPath?.(vscode.workspace.workspaceFolders?.[0]?.uri);
    if (!active?.path) return undefined;
    const resolved = await envs.resolveEnvironment?.(active).catch(() => undefined);
    return resolved?.executable?.uri?.fsPath ?? active.path;
  } catch (e) {
    log.warn(`the Python extension did not report an interpreter: ${e}`);
    return undefined;
  }
}

const building = new Map<string, Promise<void>>();

async function bundledExecutable(
  ctx: vscode.ExtensionContext,
  m: BundleManifest,
  args: string[],
  standaloneArgs: string[] | undefined,
  direct: boolean,
  log: vscode.LogOutputChannel,
): Promise<Launch> {
  const candidates = pythonCandidates({
    fromPythonExtension: await pythonExtensionInterpreter(log),
    defaultInterpreterPath: vscode.workspace.getConfiguration('python').get<string>('defaultInterpreterPath'),
    pathEnv: process.env.PATH,
    homeDir: os.homedir(),
    isExecutable,
  });
  const probe = run(15_000);
  const choice = await choosePython(candidates, async (py) => {
    const r = await probe(py, ['-c', PROBE_SCRIPT]);
    return r.code === 0 ? parseProbe(r.stdout) : { error: (r.stderr || `exit ${r.code}`).trim().split('\n').pop() };
  }, m.pythons);
  for (const s of choice.skipped) log.info(`python: skipped ${s}`);
  if (!choice.ok) return { ok: false, message: choice.message, reason: 'no suitable Python' };
  const parent = path.join(ctx.globalStorageUri.fsPath, 'server');
  const envDir = path.join(parent, envDirName(m, choice.python, choice.version));
  if (!isEnvReady(envDir, m)) {
    let b = building.get(envDir);
    if (!b) {
      log.info(`setting up the bundled qwen-lsp ${m.serverVersion} with ${choice.python} (${choice.version.join('.')}) in ${envDir}`);
      b = Promise.resolve(
        vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `Qwen: setting up the qwen-lsp server (first start, Python ${choice.version.join('.')})…` },
          () => buildEnv({ extensionPath: ctx.extensionPath, manifest: m, python: choice.python, envDir, run: run(300_000) }),
        ),
      ).finally(() => building.delete(envDir));
      building.set(envDir, b);
    }
    try {
      await b;
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      log.error(`setting up the bundled server failed: ${msg}`);
      return {
        ok: false,
        reason: 'set-up failed',
        message:
          `Qwen: setting up the bundled qwen-lsp server with ${choice.python} failed: ${msg.split('\n')[0]} ` +
          `Show the log for details; select another Python 3.11+ or set "qwen.server.command" in your User settings to a qwen-lsp executable.`,
      };
    }
    for (const r of removeStaleEnvs(parent, m)) log.info(`removed the old server environment ${r}`);
  }
  const exe = (a: string[]): Executable => ({ command: envPython(envDir), args: ['-m', 'qwen_lsp', ...a], options: { env: cleanEnv() } });
  let directPlan: DirectPlan | undefined;
  if (direct && standaloneArgs) {
    const flags = launchFromArgs(standaloneArgs);
    for (const n of flags.notes) log.warn(n);
    directPlan = {
      ensure: exe(['attach', '--ensure']),
      session: () => ({ env: stringEnv(cleanEnv()), launch: flags.launch }),
    };
  }
  return {
    ok: true,
    direct: directPlan,
    exe: exe(args),
    shared: standaloneArgs !== undefined,
    standalone: standaloneArgs && exe(standaloneArgs),
    optOut: 'set "qwen.server.shared" to false',
    description: `bundled qwen-lsp ${m.serverVersion} (Python ${choice.version.join('.')} from ${choice.source}: ${choice.python})${standaloneArgs ? ', shared' : ''}`,
  };
}

/** How to start the server now, or why it cannot start. */
export async function resolveLaunch(ctx: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<Launch> {
  const cfg = vscode.workspace.getConfiguration('qwen.server');
  const s = serverSettings((k) => cfg.inspect(k), vscode.workspace.isTrusted);
  for (const n of s.notes) log.warn(n);
  const plan = planLaunch({ configured: s.command, args: s.args, shared: s.shared, homeDir: os.homedir(), manifest: readManifest(ctx.extensionPath) });
  if (plan.kind === 'error') return { ok: false, message: plan.message, reason: 'no server' };
  if (plan.kind === 'override') {
    const exe = (args: string[]): Executable => ({ command: plan.command, args });
    return {
      ok: true,
      exe: exe(plan.args),
      shared: plan.shared,
      standalone: plan.standaloneArgs && exe(plan.standaloneArgs),
      optOut: 'remove "attach" from "qwen.server.args"',
      description: `${plan.command} (qwen.server.command)`,
    };
  }
  return bundledExecutable(ctx, plan.manifest, plan.args, plan.standaloneArgs, plan.direct === true, log);
}
