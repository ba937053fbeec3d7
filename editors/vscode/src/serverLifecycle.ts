// VS Code glue: start, restart and stop qwen-lsp through vscode-languageclient, restart it after a
// crash (within a budget) and say so.
import * as vscode from 'vscode';
import {
  CloseAction,
  CloseHandlerResult,
  ErrorAction,
  ErrorHandler,
  ErrorHandlerResult,
  LanguageClient,
  LanguageClientOptions,
  Message,
  State,
} from 'vscode-languageclient/node';
import { RestartBudget } from './errors';
import { Methods, QwenStatus } from './protocol';
import { resolveLaunch } from './serverLauncher';
import { renderStarting, renderStopped, StatusView } from './status';

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
    this.log.info(`starting ${launch.description}: ${launch.exe.command} ${(launch.exe.args ?? []).join(' ')}`);
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const exe = { ...launch.exe, options: { ...launch.exe.options, cwd: folder?.scheme === 'file' ? folder.fsPath : undefined } };
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
      outputChannel: this.log,
      traceOutputChannel: this.log,
      initializationOptions: () => this.hooks.initializationOptions(),
      errorHandler,
      // The server's own window/showMessage stays in the log unless it is an error.
      revealOutputChannelOn: 4,
    };
    // no `transport`: TransportKind.stdio would append `--stdio`; qwen-lsp speaks stdio by default
    const client = new QwenLanguageClient('qwen', 'Qwen', { run: exe, debug: exe }, clientOptions);
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

  async restart(reason: string): Promise<void> {
    this.log.info(`restarting qwen-lsp: ${reason}`);
    const old = this.client;
    this.client = undefined;
    this.hooks.onReset();
    this.hooks.render(renderStarting());
    if (old) {
      try {
        await old.stop(5000);
      } catch (e) {
        this.log.warn(`stopping the old server: ${e}`);
      }
    }
    this.restarts.reset();
    await this.start();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const c = this.client;
    this.client = undefined;
    if (c) await c.stop(2000).catch(() => undefined);
  }
}
