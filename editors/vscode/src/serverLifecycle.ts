// VS Code glue: start, restart and stop qwen-lsp through vscode-languageclient, restart it after a
// crash (within a budget) and say so.
import { PassThrough } from 'stream';
import * as vscode from 'vscode';
import {
  CloseAction,
  Executable,
  CloseHandlerResult,
  ErrorAction,
  ErrorHandler,
  ErrorHandlerResult,
  LanguageClient,
  LanguageClientOptions,
  Message,
  State,
  StreamInfo,
} from 'vscode-languageclient/node';
import { connectSocket, ensureDaemon } from './daemonSocket';
import { RestartBudget } from './errors';
import { Methods, QwenStatus } from './protocol';
import { Launch, resolveLaunch } from './serverLauncher';
import { ServerConnection } from './serverProcess';
import { renderStarting, renderStopped, StatusView } from './status';
import { hidingSessionField } from './traceRedact';

/** The server offers qwen.signIn/signOut/selectModel as LSP commands too; the extension registers
 * interactive commands under the same ids, so the client must not register the server's. */
class QwenLanguageClient extends LanguageClient {
  override registerFeature(feature: Parameters<LanguageClient['registerFeature']>[0]): void {
    const method = (feature as { registrationType?: { method?: string } }).registrationType?.method;
    if (method === 'workspace/executeCommand') return;
    super.registerFeature(feature);
  }
}

export interface LifecycleHooks {
  render(v: StatusView): void;
  onStatus(s: QwenStatus): void;
  /** after every (re)start */
  onRunning(client: LanguageClient): Promise<void>;
  /** the status is unknown again (stopped, restarting) */
  onReset(): void;
  initializationOptions(): Record<string, unknown>;
}

export class ServerLifecycle implements vscode.Disposable {
  client: LanguageClient | undefined;
  private readonly restarts = new RestartBudget(4, 180_000);
  private disposed = false;
  /** the server process (or the daemon's socket) behind the current client */
  private connection: Pick<ServerConnection, 'reap'> | undefined;
  /** `qwenSession` for the next `initialize`, while the client connects to the daemon directly */
  private session: Record<string, unknown> | undefined;
  /** why the shared server could not start in this window: it runs standalone until the next
   * explicit restart (a command, a settings change) tries the shared one again */
  private sharedFailure: string | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly hooks: LifecycleHooks,
  ) {}

  /** The client when it is running, for requests. */
  running(): LanguageClient | undefined {
    return this.client?.state === State.Running ? this.client : undefined;
  }

  private failed(reason: string, message: string): void {
    this.hooks.render(renderStopped(reason));
    const noPython = reason === 'no suitable Python';
    const buttons = noPython ? ['Get Python', 'Open Settings', 'Show Log'] : ['Show Log', 'Open Settings'];
    void vscode.window.showErrorMessage(message, ...buttons).then((a) => {
      if (a === 'Get Python') void vscode.env.openExternal(vscode.Uri.parse('https://www.python.org/downloads/'));
      if (a === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'qwen.server.command');
      if (a === 'Show Log') this.log.show(true);
    });
  }

  async start(): Promise<void> {
    const launch = await resolveLaunch(this.context, this.log);
    if (this.disposed) return;
    if (!launch.ok) {
      this.log.error(launch.message);
      return this.failed(launch.reason, launch.message);
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const inFolder = (e: Executable): Executable => ({ ...e, options: { ...e.options, cwd: folder?.scheme === 'file' ? folder.fsPath : undefined } });
    const describe = (e: Executable, how: string) => `${launch.description}${how}: ${e.command} ${(e.args ?? []).join(' ')}`;
    const cwd = folder?.scheme === 'file' ? folder.fsPath : process.cwd();
    // The daemon's socket, when the window connects to it directly (the default): no process of
    // the window's own. Any failure falls back to the standalone server, like a shim's exit 2.
    const direct = async (plan: NonNullable<typeof launch.direct>): Promise<StreamInfo | undefined> => {
      try {
        const socketPath = await ensureDaemon(inFolder(plan.ensure));
        const socket = await connectSocket(socketPath);
        this.log.info(`${launch.description}: connected to the per-user daemon directly on ${socketPath}`);
        this.session = { ...plan.session(), cwd };
        this.connection = {
          reap: (ms = 2000) => {
            const t = setTimeout(() => socket.destroy(), ms);
            t.unref?.();
          },
        };
        // what the client writes after the daemon went away is dropped, as a dead shim's stdin
        // would drop it: the client learns of the loss from the reader's end, not from a write error
        const writer = new PassThrough();
        writer.on('data', (chunk: Buffer) => {
          if (socket.writable) socket.write(chunk);
        });
        writer.on('end', () => socket.end());
        return { reader: socket, writer };
      } catch (e) {
        const why = String((e as Error).message ?? e).trim();
        this.sharedFailed(/[.!?]$/.test(why) ? why : `${why}.`, launch);
        return undefined;
      }
    };
    // Spawned here, not by the client, so that a shim that cannot reach the daemon is replaced
    // by a standalone server behind the same streams (serverProcess.ts).
    const spawn = async (): Promise<StreamInfo> => {
      this.session = undefined;
      if (launch.direct && this.sharedFailure === undefined) {
        const s = await direct(launch.direct);
        if (s) return s;
      }
      const fallback = launch.standalone && inFolder(launch.standalone);
      const standalone = this.sharedFailure !== undefined && fallback !== undefined;
      const exe = standalone ? fallback! : inFolder(launch.exe);
      const how = standalone ? ', standalone: the shared server could not start' : launch.shared ? ', shared (qwen-lsp attach)' : '';
      this.log.info(`starting ${describe(exe, how)}`);
      const conn = await ServerConnection.open(exe, standalone ? undefined : fallback, this.log, (why) => {
        this.sharedFailed(why, launch);
        this.log.info(`starting ${describe(fallback!, ', standalone: the shared server could not start')}`);
      });
      this.connection = conn;
      return { reader: conn.reader, writer: conn.writer };
    };
    const errorHandler: ErrorHandler = {
      error: (_e: Error, _m: Message | undefined, count: number | undefined): ErrorHandlerResult =>
        (count ?? 0) <= 3 ? { action: ErrorAction.Continue } : { action: ErrorAction.Shutdown },
      closed: (): CloseHandlerResult => {
        this.hooks.onReset();
        if (!this.restarts.tryRestart(Date.now())) {
          this.hooks.render(renderStopped('crashed repeatedly'));
          void vscode.window
            .showErrorMessage('Qwen: the qwen-lsp server crashed 5 times in 3 minutes and was not restarted.', 'Show Log', 'Restart Server')
            .then((a) => {
              if (a === 'Show Log') this.log.show(true);
              if (a === 'Restart Server') void this.restart('restart requested');
            });
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        this.hooks.render(renderStarting());
        void vscode.window.showWarningMessage('Qwen: the qwen-lsp server stopped unexpectedly and was restarted.', 'Show Log').then((a) => {
          if (a === 'Show Log') this.log.show(true);
        });
        return { action: CloseAction.Restart, handled: true };
      },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      // the "verbose" trace prints `initialize`'s params: qwenSession (the environment) is hidden
      // there; the client's own messages go through the same filter, in case one quotes them
      outputChannel: hidingSessionField(this.log),
      traceOutputChannel: hidingSessionField(this.log),
      initializationOptions: () => {
        // handed over once: the extension keeps no copy of the user's environment
        const qwenSession = this.session;
        this.session = undefined;
        return { ...this.hooks.initializationOptions(), ...(qwenSession ? { qwenSession } : {}) };
      },
      errorHandler,
      // The server's own window/showMessage stays in the log unless it is an error.
      revealOutputChannelOn: 4,
    };
    const client = new QwenLanguageClient('qwen', 'Qwen', spawn, clientOptions);
    this.client = client;
    client.onNotification(Methods.status, (s: QwenStatus) => this.hooks.onStatus(s));
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) void this.hooks.onRunning(client);
      if (e.newState === State.Stopped && this.client === client) this.hooks.render(renderStopped());
    });
    try {
      await client.start();
    } catch (e) {
      this.log.error(`qwen-lsp failed to start: ${e}`);
      this.failed('failed to start', `Qwen: qwen-lsp (${launch.description}) failed to start: ${(e as Error).message ?? e}`);
    }
  }

  /** `qwen-lsp attach` could not reach the per-user daemon (an unusable runtime directory, a
   * daemon that does not start): the window runs the standalone server until the next explicit
   * restart; say why and how to opt out for good. */
  private sharedFailed(why: string, launch: Launch & { ok: true }): void {
    this.log.error(`the shared qwen-lsp server could not start: ${why}`);
    this.sharedFailure = why;
    const optOut = launch.optOut ?? 'set "qwen.server.shared" to false';
    const setting = optOut.includes('qwen.server.args') ? 'qwen.server.args' : 'qwen.server.shared';
    void vscode.window
      .showWarningMessage(
        `Qwen: the shared qwen-lsp server could not start: ${why} This window runs a standalone server instead; to always run one, ${optOut}.`,
        'Open Settings',
        'Show Log',
      )
      .then((a) => {
        if (a === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', setting);
        if (a === 'Show Log') this.log.show(true);
      });
  }

  async restart(reason: string): Promise<void> {
    this.log.info(`restarting qwen-lsp: ${reason}`);
    const old = this.client;
    this.client = undefined;
    this.hooks.onReset();
    this.hooks.render(renderStarting());
    const oldConnection = this.connection;
    if (old) {
      try {
        await old.stop(5000);
      } catch (e) {
        this.log.warn(`stopping the old server: ${e}`);
      }
    }
    oldConnection?.reap();
    this.restarts.reset();
    this.sharedFailure = undefined; // a deliberate restart tries the shared server again
    await this.start();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const c = this.client;
    const p = this.connection;
    this.client = undefined;
    if (c) await c.stop(2000).catch(() => undefined);
    p?.reap(0);
  }
}
