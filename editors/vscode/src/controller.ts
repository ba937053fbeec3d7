// The extension's state and commands: one status item, the server lifecycle, sign-in, model
// choice, configuration view. VS Code glue; decisions live in the pure modules beside it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { renderConfigMarkdown } from './configView';
import { describeError, ErrorView, isCancellation, NotificationThrottle } from './errors';
import { QwenInlineCompletionProvider } from './inline';
import { KeyStore } from './keyStore';
import { buildModelPicker, findModel, PickRow } from './models';
import { announcedAuthTypes, AuthMethod, AuthParams, AuthResult, AuthTypeInfo, Methods, ModelInfo, ModelList, protocolLabel, QwenCapabilities, QwenStatus, SelectModelParams } from './protocol';
import { ServerLifecycle } from './serverLifecycle';
import { SignInFlow } from './signInFlow';
import { SignInState } from './signin';
import { describeProblem, renderStarting, renderStatus, StatusView } from './status';

export class QwenExtension implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  status: QwenStatus | undefined;
  capabilities: QwenCapabilities = {};
  readonly server: ServerLifecycle;
  private readonly item: vscode.StatusBarItem;
  private readonly keys: KeyStore;
  private readonly signInFlow: SignInFlow;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly statusListeners = new Set<(s: QwenStatus) => void>();
  private readonly throttle = new NotificationThrottle(60_000);
  /** what was last announced in a notification, so each problem/error is shown once */
  private announced = { problem: '', lastError: '' };
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
    this.server = new ServerLifecycle(context, this.log, {
      render: (v) => this.render(v),
      onStatus: (s) => this.onStatus(s),
      onRunning: (c) => this.onServerRunning(c),
      onReset: () => (this.status = undefined),
      initializationOptions: () => this.initializationOptions(),
    });
    this.signInFlow = new SignInFlow({
      client: () => this.server.running(),
      capabilities: () => this.capabilities,
      status: () => this.status,
      onStatus: (l) => this.onceStatus(l),
      keys: this.keys,
      reportError: (e, doing) => this.reportError(e, doing),
      log: this.log,
    });
    this.disposables.push(this.item, this.log, this.configChanged);
  }

  get client(): LanguageClient | undefined {
    return this.server.client;
  }

  async activate(): Promise<void> {
    const reg = (id: string, fn: Parameters<typeof vscode.commands.registerCommand>[1]) => this.disposables.push(vscode.commands.registerCommand(id, fn));
    reg('qwen.signIn', (method?: string) => this.signIn(method));
    reg('qwen.signOut', () => this.signOut());
    reg('qwen.selectModel', (arg?: string | { id: string; protocol?: string }) => this.selectModel(arg));
    reg('qwen.showConfig', () => this.showConfig());
    reg('qwen.showLog', () => this.log.show(true));
    reg('qwen.restartServer', () => this.restart('restart requested'));
    reg('qwen.showProblem', () => this.showProblem());
    reg('qwen.showLastError', () => this.showLastError());
    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider('qwen-config', {
        onDidChange: this.configChanged.event,
        provideTextDocumentContent: () => this.configDoc,
      }),
      vscode.languages.registerInlineCompletionItemProvider(
        [{ scheme: 'file' }, { scheme: 'untitled' }],
        new QwenInlineCompletionProvider({
          client: () => this.server.running(),
          status: () => this.status,
          settings: () => {
            const c = vscode.workspace.getConfiguration('qwen.inlineCompletions');
            return { enable: c.get<boolean>('enable', true), debounceMs: c.get<number>('debounceMs', 250) };
          },
          log: (m) => this.log.debug(m),
        }),
      ),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (['qwen.server', 'qwen.model', 'qwen.authType'].some((s) => e.affectsConfiguration(s))) void this.restart('settings changed');
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.restart('workspace trusted')),
    );
    await this.server.start();
  }

  restart(reason: string): Promise<void> {
    return this.server.restart(reason);
  }

  private disposed = false;

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.disposables.forEach((d) => d.dispose());
    await this.server.dispose();
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

  /** The auth types the running server announced (order and labels); none before it answered. */
  authTypes(): AuthTypeInfo[] {
    return announcedAuthTypes(this.capabilities);
  }

  /** Runs after every (re)start: read the advertised surface and hand over a stored API key. */
  private async onServerRunning(client: LanguageClient): Promise<void> {
    const exp = client.initializeResult?.capabilities?.experimental as { qwen?: QwenCapabilities } | undefined;
    this.capabilities = exp?.qwen ?? {};
    this.log.info(`qwen-lsp ${this.capabilities.version ?? '?'} running; auth methods: ${this.authTypes().map((a) => a.id).join(', ')}`);
    const cred = await this.keys.forStartup();
    if (!cred) return;
    const what = cred.provider ? `${cred.provider} key` : `${protocolLabel(cred.method, this.authTypes())} key`;
    const params: AuthParams = cred.provider
      ? { provider: cred.provider, ...(cred.region ? { region: cred.region } : {}), apiKey: cred.apiKey, ...(cred.baseUrl ? { baseUrl: cred.baseUrl } : {}), persist: false }
      : { method: cred.method as AuthMethod, apiKey: cred.apiKey, ...(cred.baseUrl ? { baseUrl: cred.baseUrl } : {}) };
    try {
      const res = await client.sendRequest<AuthResult>(Methods.auth, params);
      this.log.info(`stored ${what} handed to the server: ${res.status}`);
      if (res.status === 'failed') {
        this.showErrorView({ kind: 'auth', severity: 'error', message: `Qwen: the stored ${what} was refused: ${res.message ?? ''}`, actions: [{ title: 'Sign in again', id: 'signIn' }] });
      }
    } catch (e) {
      this.reportError(e, `Qwen: using the stored ${what}`);
    }
  }

  // ---------------------------------------------------------------- status

  private render(v: StatusView): void {
    this.item.text = v.text;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: [...new Set(v.actions.map((a) => a.command))] };
    // escape what Markdown would act on, but not `_`: URLs with user_code stay clickable and intact
    md.appendMarkdown(v.tooltip.replace(/([\\`*[\]<>#|])/g, '\\$1').split('\n').join('\n\n'));
    if (v.actions.length) md.appendMarkdown(`\n\n${v.actions.map((a) => `[${a.title}](command:${a.command})`).join(' · ')}`);
    this.item.tooltip = md;
    this.item.command = v.command;
    const detail = v.tooltip.split('\n').slice(3).join(' — ');
    this.item.accessibilityInformation = {
      label: `Qwen status: ${v.text.replace(/\$\([^)]*\)\s*/g, '')} (${v.stateLabel})${detail ? ` — ${detail}` : ''}`,
    };
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
    this.render(renderStatus(s, os.homedir(), this.authTypes()));
    this.announce(s);
    for (const l of this.statusListeners) l(s);
  }

  /** A new configuration error or a new completion failure gets one notification. */
  private announce(s: QwenStatus): void {
    const first = s.problems?.count ? s.problems.first : undefined;
    const problemKey = first?.severity === 'error' ? JSON.stringify(first) : '';
    if (problemKey !== this.announced.problem) {
      this.announced.problem = problemKey;
      if (first && problemKey) {
        void vscode.window.showErrorMessage(`Qwen: ${describeProblem(first, os.homedir())}`, ...(first.file ? ['Open File'] : []), 'Show Configuration').then((a) => {
          if (a === 'Open File') void this.showProblem();
          if (a === 'Show Configuration') void this.showConfig();
        });
      }
    }
    const errKey = s.lastError ? `${s.lastError.kind}\n${s.lastError.message}` : '';
    if (errKey !== this.announced.lastError) {
      this.announced.lastError = errKey;
      if (s.lastError && this.throttle.shouldShow(s.lastError.kind, Date.now())) void this.showLastError();
    }
  }

  private onceStatus(l: (s: QwenStatus) => void): vscode.Disposable {
    this.statusListeners.add(l);
    return { dispose: () => this.statusListeners.delete(l) };
  }

  async showProblem(): Promise<void> {
    const p = this.status?.problems?.count ? this.status.problems.first : undefined;
    if (!p?.file) return this.showConfig();
    const line = typeof p.line === 'number' && p.line > 0 ? p.line - 1 : 0;
    await vscode.window.showTextDocument(vscode.Uri.file(p.file), { selection: new vscode.Range(line, 0, line, 0) });
  }

  async showLastError(): Promise<void> {
    const e = this.status?.lastError;
    if (!e) {
      void vscode.window.showInformationMessage('Qwen: the last completion did not fail.');
      return;
    }
    this.showErrorView(describeError({ message: e.message, data: { kind: e.kind } }, `Qwen completion${e.model ? ` with ${e.model}` : ''}`));
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

  reportError(err: unknown, doing: string): void {
    if (isCancellation(err)) return;
    const v = describeError(err, doing);
    this.log.error(v.message);
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
    const c = this.server.running();
    if (!c) {
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

  signIn(method?: string): Promise<SignInState> {
    return this.signInFlow.run(method);
  }

  async signOut(): Promise<void> {
    const res = await this.request<{ status?: string }>(Methods.signOut, {}, 'Qwen: signing out');
    await this.keys.clear(this.authTypes().map((a) => a.id));
    if (res) void vscode.window.showInformationMessage('Qwen: signed out. Stored API keys were removed.');
  }

  // ---------------------------------------------------------------- models

  async selectModel(arg?: string | { id: string; protocol?: string }, refresh = false): Promise<ModelList | undefined> {
    const list = await this.request<ModelList>(Methods.listModels, refresh ? { refresh: true } : {}, 'Qwen: listing models');
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
      if (!list.models?.length) {
        const a = await vscode.window.showWarningMessage('Qwen: no models are configured and nobody is signed in.', 'Sign in', 'Open settings.json');
        if (a === 'Sign in') void this.signIn();
        if (a === 'Open settings.json') void this.openQwenSettings();
        return list;
      }
      const picked = await pickModel(list, this.authTypes());
      if (!picked) return undefined;
      if (picked.kind === 'action') {
        if (picked.action === 'refresh') return this.selectModel(undefined, true);
        if (picked.action === 'signIn') void this.signIn();
        return list;
      }
      if (picked.kind !== 'model') return undefined;
      chosen = picked.model;
    }
    const params: SelectModelParams = { id: chosen.id, protocol: chosen.protocol as AuthMethod };
    const res = await this.request<ModelList>(Methods.selectModel, params, `Qwen: selecting ${chosen.id}`);
    if (res && !chosen.hasCredentials) {
      const a = await vscode.window.showWarningMessage(
        `Qwen: ${chosen.name || chosen.id} has no credentials yet (${protocolLabel(chosen.protocol, this.authTypes())}).`,
        'Sign in',
        'Open settings.json',
      );
      if (a === 'Sign in') void this.signIn();
      if (a === 'Open settings.json') void this.openQwenSettings();
    }
    return res;
  }

  // ---------------------------------------------------------------- configuration

  /** The effective configuration as a rendered Markdown preview beside the editor. */
  async showConfig(): Promise<void> {
    const cfg = await this.request<unknown>(Methods.config, {}, 'Qwen: reading the configuration');
    if (cfg === undefined) return;
    this.configDoc = renderConfigMarkdown(cfg);
    this.configChanged.fire(QwenExtension.configUri);
    try {
      await vscode.commands.executeCommand('markdown.showPreviewToSide', QwenExtension.configUri);
    } catch (e) {
      // no Markdown support in this host: the source is still readable
      this.log.warn(`markdown preview unavailable (${e}); opening the Markdown source`);
      const doc = await vscode.workspace.openTextDocument(QwenExtension.configUri);
      await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
      await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
    }
  }
}

/** The model quick pick; resolves with the row the user accepted. */
async function pickModel(list: ModelList, authTypes: readonly AuthTypeInfo[]): Promise<PickRow | undefined> {
  type Item = vscode.QuickPickItem & { row: PickRow };
  const items: Item[] = buildModelPicker(list, authTypes).map((r) =>
    r.kind === 'separator'
      ? { label: r.label, kind: vscode.QuickPickItemKind.Separator, row: r }
      : r.kind === 'model'
        ? { label: r.label, description: r.description, detail: r.detail, row: r }
        : { label: r.label, description: r.description, row: r },
  );
  const picked = await new Promise<Item | undefined>((resolve) => {
    const qp = vscode.window.createQuickPick<Item>();
    qp.title = 'Qwen: Select Model';
    qp.placeholder = `Current: ${list.current ?? 'none'} — grouped by provider; a lock means no credentials yet`;
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
  return picked?.row;
}
