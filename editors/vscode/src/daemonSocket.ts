// A window's LSP stream straight to the per-user daemon, without a `qwen-lsp attach` process:
// `qwen-lsp attach --ensure` starts the daemon when nobody listens and prints its socket; the
// extension connects to that socket itself.
import * as cp from 'child_process';
import * as net from 'net';
import type { Executable } from 'vscode-languageclient/node';
import { ATTACH_FAILED_EXIT, attachFailureMessage, parseEnsureOutput } from './serverCommand';

/** ~30-80 ms when the daemon runs; its start-up (0.5-3 s on a busy machine) when it does not.
 * Bounds only how long a hung `--ensure` keeps a window without its server. */
export const ENSURE_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 5_000;

/** The daemon cannot be reached; the message says why (for the user, without the program name). */
export class DirectFailure extends Error {}

/** Run `exe` (a `qwen-lsp attach --ensure` command) and return the socket it printed. */
export function ensureDaemon(exe: Executable, timeoutMs = ENSURE_TIMEOUT_MS): Promise<string> {
  const opts = { env: exe.options?.env, cwd: exe.options?.cwd, timeout: timeoutMs, maxBuffer: 1 << 20, windowsHide: true };
  return new Promise((resolve, reject) => {
    cp.execFile(exe.command, exe.args ?? [], opts, (err, stdout, stderr) => {
      if (err) {
        const code = typeof err.code === 'number' ? err.code : undefined;
        if (err.killed || (code === undefined && err.signal)) {
          reject(new DirectFailure(`\`qwen-lsp attach --ensure\` did not answer within ${timeoutMs / 1000} s.`));
        } else if (code === ATTACH_FAILED_EXIT) {
          reject(new DirectFailure(attachFailureMessage(String(stderr))));
        } else if (code !== undefined) {
          const last = String(stderr).trim().split('\n').pop();
          reject(new DirectFailure(`\`qwen-lsp attach --ensure\` exited with code ${code}${last ? `: ${last}` : '.'}`));
        } else {
          reject(new DirectFailure(`\`qwen-lsp attach --ensure\` could not run: ${err.message}`));
        }
        return;
      }
      const r = parseEnsureOutput(String(stdout));
      if ('socket' in r) resolve(r.socket);
      else reject(new DirectFailure(`\`qwen-lsp attach --ensure\`: ${r.error}`));
    });
  });
}

/** The connected socket, or a DirectFailure naming the socket and the cause. */
export function connectSocket(socketPath: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    const fail = (why: string) => {
      clearTimeout(t);
      s.destroy();
      reject(new DirectFailure(`could not connect to the daemon's socket ${socketPath}: ${why}`));
    };
    const t = setTimeout(() => fail(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    s.once('error', (e) => fail(e.message));
    s.once('connect', () => {
      clearTimeout(t);
      s.removeAllListeners('error');
      // a daemon that goes away mid-write: the client sees the stream close and restarts
      s.on('error', () => undefined);
      resolve(s);
    });
  });
}
