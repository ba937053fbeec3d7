// The server's stdio as vscode-languageclient sees it. The extension spawns qwen-lsp itself (the
// client would only show its stderr) so that a shared launch whose `qwen-lsp attach` cannot
// reach the daemon — it exits 2 with a message before writing a byte — is replaced by the same
// server standalone, behind the same streams: the client never sees a failed start, and what it
// already wrote (`initialize`) is replayed to the standalone server.
import * as cp from 'child_process';
import { PassThrough } from 'stream';
import type * as vscode from 'vscode';
import type { Executable } from 'vscode-languageclient/node';
import { ATTACH_FAILED_EXIT, attachFailureMessage } from './serverCommand';

const STDERR_KEEP = 16 * 1024;

function spawn(exe: Executable): Promise<cp.ChildProcess> {
  const child = cp.spawn(exe.command, exe.args ?? [], { ...exe.options, stdio: 'pipe', windowsHide: true });
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`Launching server using command ${exe.command} failed: ${e.message}`)));
    child.once('spawn', () => resolve(child));
  });
}

export class ServerConnection {
  /** what the client reads (the server's stdout) and writes (its stdin) */
  readonly reader = new PassThrough();
  readonly writer = new PassThrough();
  private child!: cp.ChildProcess;
  /** the client's bytes, kept for a replay until the shared server has answered */
  private sent: Buffer[] | undefined = [];

  private constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly onFallback: (why: string) => void,
  ) {
    this.writer.on('data', (chunk: Buffer) => {
      this.sent?.push(chunk);
      this.child.stdin?.write(chunk);
    });
    this.writer.on('end', () => this.child.stdin?.end());
  }

  /** `exe` started; `standalone` (the same server without `attach`) takes over if `exe` is a
   * shim that cannot reach the daemon. */
  static async open(
    exe: Executable,
    standalone: Executable | undefined,
    log: vscode.LogOutputChannel,
    onFallback: (why: string) => void,
  ): Promise<ServerConnection> {
    const c = new ServerConnection(log, onFallback);
    await c.run(exe, standalone);
    return c;
  }

  private async run(exe: Executable, standalone: Executable | undefined): Promise<void> {
    const child = await spawn(exe);
    this.child = child;
    if (!standalone) this.sent = undefined;
    let stderr = '';
    let answered = false;
    child.stderr!.on('data', (d) => {
      this.log.append(String(d));
      stderr = (stderr + String(d)).slice(-STDERR_KEEP);
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      answered = true;
      this.sent = undefined;
      this.reader.write(chunk);
    });
    child.stdin!.on('error', () => undefined); // a server that exited: its close below says so
    child.on('close', (code, signal) => {
      this.log.info(`qwen-lsp (pid ${child.pid}) exited with ${signal ? `signal ${signal}` : `code ${code}`}`);
      const replay = this.sent;
      if (standalone && !answered && code === ATTACH_FAILED_EXIT && replay) {
        const why = attachFailureMessage(stderr);
        this.onFallback(why);
        this.run(standalone, undefined).then(
          () => replay.forEach((b) => this.child.stdin!.write(b)),
          (e) => {
            this.log.error(String(e));
            this.reader.end();
          },
        );
        return;
      }
      this.reader.end(); // the client sees the connection close (and restarts a crashed server)
    });
  }

  /** After the client's shutdown/exit: make sure the process is gone. */
  reap(ms = 2000): void {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const t = setTimeout(() => {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    }, ms);
    t.unref?.();
  }
}
