// VS Code glue: starts qwen-lsp through vscode-languageclient and wires commands, the status bar,
// sign-in and inline completions to it. Decisions live in the pure modules next to this file.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  CloseAction,
  CloseHandlerResult,
  ErrorAction,
  ErrorHandler,
  ErrorHandlerResult,
  Executable,
  LanguageClient,
  LanguageClientOptions,
  Message,
  State,
} from 'vscode-languageclient/node';
import { describeError, ErrorView, isCancellation, NotificationThrottle, RestartBudget } from './errors';
import { renderConfigMarkdown } from './configView';
import { QwenInlineCompletionProvider } from './inline';
import { KeyStore } from './keyStore';
import { buildModelPicker, findModel, PickRow } from './models';
import {
  AuthResult,
  isApiKeyMethod,
  Methods,
  ModelInfo,
  ModelList,
  PROTOCOL_ORDER,
  protocolLabel,
  QwenCapabilities,
  QwenStatus,
} from './protocol';
import { resolveServerCommand } from './serverCommand';
import { describeWaiting, isTerminal, SignInEvent, signInReducer, SignInState } from './signin';
import { renderStarting, renderStatus, renderStopped, StatusView } from './status';

/** The server offers qwen.signIn/signOut/selectModel as LSP commands too; the extension registers
 * interactive commands under the same ids, so the client must not register the server's. */
class QwenLanguageClient extends LanguageClient {
  override registerFeature(feature: Parameters<LanguageClient['registerFeature']>[0]): void {
    const method = (feature as { registrationType?: { method?: string } }).registrationType?.method;
    if (method === 'workspace/executeCommand') return;
    super.registerFeature(feature);
  }
}

const METHOD_DETAIL: Record<string, string> = {
  'qwen-oauth': 'Sign in with your Qwen account in the browser',
  openai: 'API key for an OpenAI-compatible endpoint (OpenAI, DashScope/Bailian, Coding Plan, …)',
  anthropic: 'Anthropic API key',
  gemini: 'Gemini API key',
  'vertex-ai': 'Vertex AI API key',
};

export class QwenExtension implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  client: LanguageClient | undefined;
  status: QwenStatus | undefined;
  capabilities: QwenCapabilities = {};
  private readonly item: vscode.StatusBarItem;
  private readonly keys: KeyStore;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly statusListeners = new Set<(s: QwenStatus) => void>();
  private readonly throttle = new NotificationThrottle(60_000);
  private readonly restarts = new RestartBudget(4, 180_000);
  private signInActive = false;
  private configDoc = '';
  private readonly configChanged = new vscode.EventEmitter<vscode.Uri>();
  static readonly configUri = vscode.Uri.parse('qwen-config:/Qwen%20configuration.md');

  constructor(private readonly context: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('Qwen', { log: true });
    this.keys = new KeyStore(context.secrets, context.globalState);
    this.item = vscode.window.createStatusBarItem('qwen.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Qwen';
    this.render(renderStarting());
    this.item.show();
    this.disposables.push(this.item, this.log, this.configChanged);
  }

  // ---------------------------------------------------------------- lifecycle

  async activate(): Promise<void> {
    const reg = (id: string, fn: (...a: any[]) => unknown) =>
      this.disposables.push(vscode.commands.registerCommand(id, fn));
    reg('qwen.signIn', (method?: string) => this.signIn(method));
    reg('qwen.signOut', () => this.signOut());
    reg('qwen.selectModel', (arg?: string | { id: string; protocol?: string }) => this.selectModel(arg));
    reg('qwen.showConfig', () => this.showConfig());
    reg('qwen.showLog', () => this.log.show(true));
    reg('qwen.restartServer', () => this.restart('restart requested'));

    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider('qwen-config', {
        onDidChange: this.configChanged.event,
        provideTextDocumentContent: () => this.configDoc,
      }),
      vscode.languages.registerInlineCompletionItemProvider(
        [{ scheme: 'file' }, { scheme: 'untitled' }],
        new QwenInlineCompletionProvider({
          client: () => (this.client?.state === State.Running ? this.client : undefined),
          status: () => this.status,
          settings: () => {
            const c = vscode.workspace.getConfiguration('qwen.inlineCompletions');
            return {
              enable: c.get<boolean>('enable', true),
              debounceMs: c.get<number>('debounceMs', 250),
              maxTokens: c.get<number>('maxTokens', 128),
            };
          },
          onError: (err) => this.reportError(err, 'Qwen inline completion', true),
          log: (m) => this.log.debug(m),
        }),
      ),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (['qwen.server', 'qwen.model', 'qwen.authType'].some((s) => e.affectsConfiguration(s))) {
          void this.restart('settings changed');
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.restart('workspace trusted')),
    );
    await this.start();
  }

  private initializationOptions(): Record<string, unknown> {
    const cfg = vscode.workspace.getConfiguration('qwen');
    const opts: Record<string, unknown> = { workspaceTrusted: vscode.workspace.isTrusted };
    const model = cfg.get<string>('model', '').trim();
    const authType = cfg.get<string>('authType', '').trim();
    if (model) opts.model = model;
    if (authType) opts.authType = authType;
    return opts;
  }

  private async pythonInterpreters(): Promise<string[]> {
    const out: string[] = [];
    try {
      const ext = vscode.extensions.getExtension('ms-python.python');
      if (ext) {
        const api = ext.isActive ? ext.exports : await ext.activate();
        const p = api?.environments?.getActiveEnvironmentPath?.(vscode.workspace.workspaceFolders?.[0]?.uri);
        if (p?.path) out.push(p.path);
      }
    } catch (e) {
      this.log.warn(`Python extension did not report an environment: ${e}`);
    }
    const def = vscode.workspace.getConfiguration('python').get<string>('defaultInterpreterPath');
    if (def && def !== 'python') out.push(def);
    return out;
  }

  private async serverExecutable(): Promise<Executable | undefined> {
    const cfg = vscode.workspace.getConfiguration('qwen.server');
    const resolved = resolveServerCommand({
      configured: vscode.workspace.isTrusted ? cfg.get<string>('command') : cfg.inspect<string>('command')?.globalValue,
      args: cfg.get<string[]>('args', []),
      pathEnv: process.env.PATH,
      pythonInterpreters: await this.pythonInterpreters(),
      homeDir: os.homedir(),
      isExecutable: (f) => {
        try {
          fs.accessSync(f, fs.constants.X_OK);
          return fs.statSync(f).isFile();
        } catch {
          return false;
        }
      },
    });
    if (!resolved.ok) {
      this.render(renderStopped('qwen-lsp not found'));
      void vscode.window.showErrorMessage(resolved.message, 'Open Settings', 'Show Log').then((a) => {
        if (a === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'qwen.server');
        if (a === 'Show Log') this.log.show(true);
      });
      return undefined;
    }
    this.log.info(`starting ${resolved.command} ${resolved.args.join(' ')} (from ${resolved.source})`);
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.scheme === 'file' ? vscode.workspace.workspaceFolders[0].uri.fsPath : undefined;
    // no `transport`: TransportKind.stdio would append `--stdio`; qwen-lsp speaks stdio by default
    return { command: resolved.command, args: resolved.args, options: { cwd } };
  }

  async start(): Promise<void> {
    const exe = await this.serverExecutable();
    if (!exe) return;
    const errorHandler: ErrorHandler = {
      error: (_e: Error, _m: Message | undefined, count: number | undefined): ErrorHandlerResult =>
        (count ?? 0) <= 3 ? { action: ErrorAction.Continue } : { action: ErrorAction.Shutdown },
      closed: (): CloseHandlerResult => {
        this.status = undefined;
        if (!this.restarts.tryRestart(Date.now())) {
          this.render(renderStopped('crashed repeatedly'));
          void vscode.window
            .showErrorMessage('Qwen: the qwen-lsp server crashed 5 times in 3 minutes and was not restarted.', 'Show Log', 'Restart Server')
            .then((a) => {
              if (a === 'Show Log') this.log.show(true);
              if (a === 'Restart Server') void this.restart('restart requested');
            });
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        this.render(renderStarting());
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
      initializationOptions: () => this.initializationOptions(),
      errorHandler,
      // The server's own window/showMessage stays in the log unless it is an error.
      revealOutputChannelOn: 4,
    };
    const client = new QwenLanguageClient('qwen', 'Qwen', { run: exe, debug: exe }, clientOptions);
    this.client = client;
    client.onNotification(Methods.status, (s: QwenStatus) => this.onStatus(s));
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) void this.onServerRunning(client);
      if (e.newState === State.Stopped && this.client === client) this.render(renderStopped());
    });
    try {
      await client.start();
    } catch (e) {
      this.log.error(`qwen-lsp failed to start: ${e}`);
      this.render(renderStopped('failed to start'));
      void vscode.window.showErrorMessage(`Qwen: qwen-lsp failed to start: ${(e as Error).message ?? e}`, 'Show Log', 'Open Settings').then((a) => {
        if (a === 'Show Log') this.log.show(true);
        if (a === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'qwen.server');
      });
    }
  }

  /** Runs after every (re)start: read the advertised surface and hand over a stored API key. */
  private async onServerRunning(client: LanguageClient): Promise<void> {
    const exp = client.initializeResult?.capabilities?.experimental as { qwen?: QwenCapabilities } | undefined;
    this.capabilities = exp?.qwen ?? {};
    this.log.info(`qwen-lsp ${this.capabilities.version ?? '?'} running; auth methods: ${(this.capabilities.authMethods ?? []).join(', ')}`);
    const cred = await this.keys.forStartup();
    if (!cred) return;
    try {
      const res = await client.sendRequest<AuthResult>(Methods.auth, { method: cred.method, apiKey: cred.apiKey, ...(cred.baseUrl ? { baseUrl: cred.baseUrl } : {}) });
      this.log.info(`stored ${protocolLabel(cred.method)} key handed to the server: ${res.status}`);
      if (res.status === 'failed') {
        this.showErrorView({ kind: 'auth', severity: 'error', message: `Qwen: the stored ${protocolLabel(cred.method)} key was refused: ${res.message ?? ''}`, actions: [{ title: 'Sign in again', id: 'signIn' }] });
      }
    } catch (e) {
      this.reportError(e, `Qwen: using the stored ${protocolLabel(cred.method)} key`);
    }
  }

  async restart(reason: string): Promise<void> {
    this.log.info(`restarting qwen-lsp: ${reason}`);
    const old = this.client;
    this.client = undefined;
    this.status = undefined;
    this.render(renderStarting());
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

  private disposed = false;

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const c = this.client;
    this.client = undefined;
    this.disposables.forEach((d) => d.dispose());
    if (c) await c.stop(2000).catch(() => undefined);
  }

  // ---------------------------------------------------------------- status

  private render(v: StatusView): void {
    this.item.text = v.text;
    this.item.tooltip = v.tooltip;
    this.item.command = v.command;
    this.item.accessibilityInformation = { label: `Qwen status: ${v.text.replace(/\$\([^)]*\)\s*/g, '')} (${v.stateLabel})` };
    this.item.backgroundColor =
      v.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : v.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  private onStatus(s: QwenStatus): void {
    this.status = s;
    this.log.info(`status: ${s.state} ${s.model ? `${s.model.protocol}/${s.model.id}` : '(no model)'}${s.message ? ` — ${s.message}` : ''}`);
    this.render(renderStatus(s));
    for (const l of this.statusListeners) l(s);
  }

  private onceStatus(l: (s: QwenStatus) => void): vscode.Disposable {
    this.statusListeners.add(l);
    return { dispose: () => this.statusListeners.delete(l) };
  }

  // ---------------------------------------------------------------- errors

  private showErrorView(v: ErrorView): void {
    if (v.severity === 'none') return;
    const show = v.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
    void show(v.message, ...v.actions.map((a) => a.title)).then((picked) => {
      const a = v.actions.find((x) => x.title === picked);
      if (!a) return;
      switch (a.id) {
        case 'signIn':
          return void this.signIn();
        case 'selectModel':
          return void this.selectModel();
        case 'showConfig':
          return void this.showConfig();
        case 'showLog':
          return this.log.show(true);
        case 'openSettings':
          return void this.openQwenSettings();
        case 'retry':
          return void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      }
    });
  }

  reportError(err: unknown, doing: string, throttled = false): void {
    if (isCancellation(err)) return;
    const v = describeError(err, doing);
    this.log.error(v.message);
    if (throttled && !this.throttle.shouldShow(v.kind, Date.now())) return;
    this.showErrorView(v);
  }

  private async openQwenSettings(): Promise<void> {
    const raw = process.env.QWEN_HOME?.trim();
    const home = raw ? (raw.startsWith('~') ? path.join(os.homedir(), raw.slice(1)) : raw) : path.join(os.homedir(), '.qwen');
    const file = path.join(home, 'settings.json');
    if (!fs.existsSync(file)) {
      fs.mkdirSync(home, { recursive: true });
      fs.writeFileSync(file, '{\n}\n', { mode: 0o600 });
    }
    await vscode.window.showTextDocument(vscode.Uri.file(file));
  }

  private async request<T>(method: string, params: unknown, doing: string): Promise<T | undefined> {
    const c = this.client;
    if (!c || c.state !== State.Running) {
      void vscode.window.showErrorMessage('Qwen: the qwen-lsp server is not running.', 'Show Log', 'Restart Server').then((a) => {
        if (a === 'Show Log') this.log.show(true);
        if (a === 'Restart Server') void this.restart('restart requested');
      });
      return undefined;
    }
    try {
      return await c.sendRequest<T>(method, params);
    } catch (e) {
      this.reportError(e, doing);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- sign in / out

  async signIn(methodArg?: string): Promise<SignInState> {
    if (this.signInActive) {
      void vscode.window.showInformationMessage('Qwen: a sign-in is already in progress.');
      return { phase: 'cancelled' };
    }
    this.signInActive = true;
    try {
      return await this.runSignIn(methodArg);
    } finally {
      this.signInActive = false;
    }
  }

  private async runSignIn(methodArg?: string): Promise<SignInState> {
    let s: SignInState = signInReducer({ phase: 'idle' }, { type: 'start' });
    const step = (e: SignInEvent) => (s = signInReducer(s, e));
    const offered = (this.capabilities.authMethods?.length ? this.capabilities.authMethods : [...PROTOCOL_ORDER]).map(String);
    let method = methodArg;
    if (!method) {
      const pick = await vscode.window.showQuickPick(
        offered.map((m) => ({ label: protocolLabel(m), description: m, detail: METHOD_DETAIL[m], method: m })),
        { title: 'Qwen: Sign in', placeHolder: 'How do you want to sign in?', ignoreFocusOut: true },
      );
      if (!pick) return step({ type: 'cancel' });
      method = pick.method;
    }
    step({ type: 'methodChosen', method, needsKey: isApiKeyMethod(method) });
    const params: Record<string, unknown> = { method };
    if (s.phase === 'askingKey') {
      const apiKey = await vscode.window.showInputBox({
        title: `Qwen: ${protocolLabel(method)} API key`,
        prompt: `Paste your ${protocolLabel(method)} API key. It is kept in VS Code's secret storage and handed to qwen-lsp on each start.`,
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'The key must not be empty'),
      });
      if (!apiKey) return step({ type: 'cancel' });
      params.apiKey = apiKey.trim();
      if (method === 'openai') {
        const baseUrl = await vscode.window.showInputBox({
          title: 'Qwen: OpenAI-compatible base URL (optional)',
          prompt: 'Leave empty to use the base URL from settings.json or the default https://api.openai.com/v1.',
          placeHolder: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
          ignoreFocusOut: true,
        });
        if (baseUrl === undefined) return step({ type: 'cancel' });
        if (baseUrl.trim()) params.baseUrl = baseUrl.trim();
      }
      step({ type: 'keyEntered' });
    }
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Qwen: signing in with ${protocolLabel(method)}`, cancellable: true },
      async (progress, token) => {
        const client = this.client;
        if (!client || client.state !== State.Running) {
          return step({ type: 'authError', message: 'the qwen-lsp server is not running' });
        }
        // Listen before asking, so an outcome reported right after the answer is not missed.
        const events: SignInEvent[] = [];
        let wake: (() => void) | undefined;
        const push = (e: SignInEvent) => {
          events.push(e);
          wake?.();
        };
        const subs = [
          this.onceStatus((st) => push({ type: 'status', status: st })),
          token.onCancellationRequested(() => push({ type: 'cancel' })),
        ];
        const timer = setInterval(() => push({ type: 'tick', now: Date.now() }), 1000);
        try {
          try {
            const res = await client.sendRequest<AuthResult>(Methods.auth, params, token);
            step({ type: 'authResult', result: res, now: Date.now() });
          } catch (e) {
            if (isCancellation(e) || token.isCancellationRequested) return step({ type: 'cancel' });
            this.reportError(e, `Qwen: signing in with ${protocolLabel(method)}`);
            return step({ type: 'authError', message: (e as Error).message ?? String(e) });
          }
          events.length = 0; // statuses sent before the answer describe the old state
          if (s.phase === 'waitingForBrowser') {
            const w = s;
            progress.report({ message: w.userCode ? `waiting for approval of code ${w.userCode} in the browser…` : 'waiting for approval in the browser…' });
            const target = w.verificationUriComplete || w.verificationUri;
            void vscode.window.showInformationMessage(describeWaiting(w), 'Copy code & open browser').then(async (a) => {
              if (a !== 'Copy code & open browser') return;
              // copying may wait on a browser permission: never let it hold up opening the page
              const copied = w.userCode ? Promise.resolve(vscode.env.clipboard.writeText(w.userCode)).catch(() => undefined) : undefined;
              if (target) await vscode.env.openExternal(vscode.Uri.parse(target));
              await copied;
            });
          }
          while (s.phase === 'waitingForBrowser') {
            if (!events.length) await new Promise<void>((r) => (wake = r));
            wake = undefined;
            for (const e of events.splice(0)) step(e);
          }
        } finally {
          clearInterval(timer);
          subs.forEach((d) => d.dispose());
        }
        return s;
      },
    ).then(async (final) => {
      if (final.phase === 'signedIn') {
        if (params.apiKey) {
          await this.keys.save({ method: method!, apiKey: String(params.apiKey), baseUrl: params.baseUrl as string | undefined });
        } else {
          await this.keys.setLastMethod(method);
        }
        const model = this.status?.model;
        void vscode.window.showInformationMessage(
          `Qwen: signed in with ${protocolLabel(method)}${model ? ` — model ${model.name || model.id}` : ''}.`,
        );
      } else if (final.phase === 'failed') {
        void vscode.window.showErrorMessage(`Qwen: sign-in failed: ${final.message}`, 'Try again', 'Show Log').then((a) => {
          if (a === 'Try again') void this.signIn(method);
          if (a === 'Show Log') this.log.show(true);
        });
      } else if (final.phase === 'cancelled') {
        void vscode.window.showInformationMessage('Qwen: sign-in cancelled.');
      }
      this.log.info(`sign-in ${final.phase}${isTerminal(final) ? '' : ' (unfinished)'}`);
      return final;
    });
  }

  async signOut(): Promise<void> {
    const res = await this.request<{ status?: string }>(Methods.signOut, {}, 'Qwen: signing out');
    await this.keys.clear([...new Set([...PROTOCOL_ORDER, ...(this.capabilities.authMethods ?? [])])]);
    if (res) void vscode.window.showInformationMessage('Qwen: signed out. Stored API keys were removed.');
  }

  // ---------------------------------------------------------------- models

  async selectModel(arg?: string | { id: string; protocol?: string }): Promise<ModelList | undefined> {
    const list = await this.request<ModelList>(Methods.listModels, {}, 'Qwen: listing models');
    if (!list) return undefined;
    let chosen: ModelInfo | undefined;
    if (arg) {
      const id = typeof arg === 'string' ? arg : arg.id;
      const protocol = typeof arg === 'string' ? undefined : arg.protocol;
      chosen = findModel(list, id, protocol);
      if (!chosen) {
        void vscode.window.showErrorMessage(`Qwen: no configured model "${id}".`, 'Show Configuration').then((a) => a && this.showConfig());
        return undefined;
      }
    } else {
      const rows = buildModelPicker(list);
      if (!list.models?.length) {
        const a = await vscode.window.showWarningMessage('Qwen: no models are configured and nobody is signed in.', 'Sign in', 'Open settings.json');
        if (a === 'Sign in') void this.signIn();
        if (a === 'Open settings.json') void this.openQwenSettings();
        return list;
      }
      type Item = vscode.QuickPickItem & { row: PickRow };
      const items: Item[] = rows.map((r) =>
        r.kind === 'separator'
          ? { label: r.label, kind: vscode.QuickPickItemKind.Separator, row: r }
          : r.kind === 'model'
            ? { label: r.label, description: r.description, detail: r.detail, row: r }
            : { label: r.label, description: r.description, row: r },
      );
      const picked = await new Promise<Item | undefined>((resolve) => {
        const qp = vscode.window.createQuickPick<Item>();
        qp.title = 'Qwen: Select Model';
        qp.placeholder = `Current: ${list.current ?? 'none'} — models marked with a lock have no credentials yet`;
        qp.items = items;
        qp.matchOnDescription = true;
        const active = items.find((i) => i.row.kind === 'model' && i.row.picked);
        if (active) qp.activeItems = [active];
        let done = false;
        qp.onDidAccept(() => {
          done = true;
          resolve(qp.selectedItems[0] ?? qp.activeItems[0]);
          qp.hide();
        });
        qp.onDidHide(() => {
          if (!done) resolve(undefined);
          qp.dispose();
        });
        qp.show();
      });
      if (!picked) return undefined;
      if (picked.row.kind === 'action') {
        if (picked.row.action === 'signIn') void this.signIn();
        return list;
      }
      if (picked.row.kind !== 'model') return undefined;
      chosen = picked.row.model;
    }
    const res = await this.request<ModelList>(Methods.selectModel, { id: chosen.id, protocol: chosen.protocol }, `Qwen: selecting ${chosen.id}`);
    if (res && !chosen.hasCredentials) {
      const a = await vscode.window.showWarningMessage(
        `Qwen: ${chosen.name || chosen.id} has no credentials yet (${protocolLabel(chosen.protocol)}).`,
        'Sign in',
        'Open settings.json',
      );
      if (a === 'Sign in') void this.signIn(chosen.protocol);
      if (a === 'Open settings.json') void this.openQwenSettings();
    }
    return res;
  }

  // ---------------------------------------------------------------- configuration

  async showConfig(): Promise<void> {
    const cfg = await this.request<unknown>(Methods.config, {}, 'Qwen: reading the configuration');
    if (cfg === undefined) return;
    this.configDoc = renderConfigMarkdown(cfg);
    this.configChanged.fire(QwenExtension.configUri);
    const doc = await vscode.workspace.openTextDocument(QwenExtension.configUri);
    await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
    await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }
}

let ext: QwenExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<QwenExtension> {
  ext = new QwenExtension(context);
  context.subscriptions.push({ dispose: () => void ext?.dispose() });
  await ext.activate();
  return ext;
}

export async function deactivate(): Promise<void> {
  const e = ext;
  ext = undefined;
  await e?.dispose();
}
