// VS Code glue for "Qwen: Sign in": pick a provider from the server's catalogue (`qwen/providers`),
// a region, a key (kept in SecretStorage per provider) and a base URL where one is needed, or run
// the Qwen OAuth device flow with a progress notification. Decisions are in signin.ts and
// providers.ts.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { isCancellation } from './errors';
import { KeyStore } from './keyStore';
import { announcedAuthTypes, AuthMethod, AuthParams, AuthResult, isApiKeyMethod, Methods, protocolLabel, ProvidersResult, QwenCapabilities, QwenStatus } from './protocol';
import { buildProviderRows, checkBaseUrl, checkKeyPrefix, findProviderRow, methodRows, ProviderRow } from './providers';
import { describeWaiting, isTerminal, SignInEvent, signInReducer, SignInState } from './signin';

export interface SignInDeps {
  /** the running client, if any */
  client(): LanguageClient | undefined;
  capabilities(): QwenCapabilities;
  status(): QwenStatus | undefined;
  onStatus(l: (s: QwenStatus) => void): vscode.Disposable;
  keys: KeyStore;
  reportError(err: unknown, doing: string): void;
  log: vscode.LogOutputChannel;
}

export class SignInFlow {
  private active = false;
  constructor(private readonly d: SignInDeps) {}

  async run(methodArg?: string): Promise<SignInState> {
    if (this.active) {
      void vscode.window.showInformationMessage('Qwen: a sign-in is already in progress.');
      return { phase: 'cancelled' };
    }
    this.active = true;
    try {
      const final = await this.flow(methodArg);
      this.d.log.info(`sign-in ${final.phase}${isTerminal(final) ? '' : ' (unfinished)'}`);
      return final;
    } finally {
      this.active = false;
    }
  }

  /** The catalogue from the server; an older server without `qwen/providers` gets one row per
   * auth type it announced. No server yet: no rows (the methods are the server's to name). */
  private async rows(): Promise<ProviderRow[]> {
    const caps = this.d.capabilities();
    const types = announcedAuthTypes(caps);
    const offered = types.map((a) => a.id);
    const client = this.d.client();
    if (client && (!caps.methods || caps.methods.includes(Methods.providers))) {
      try {
        const res = await client.sendRequest<ProvidersResult>(Methods.providers, {});
        if (res?.providers?.length) return buildProviderRows(res.providers, offered);
      } catch (e) {
        this.d.log.warn(`qwen/providers failed (${(e as Error).message ?? e}); offering the bare methods`);
      }
    }
    return methodRows(types);
  }

  private async flow(arg?: string): Promise<SignInState> {
    let s: SignInState = signInReducer({ phase: 'idle' }, { type: 'start' });
    const step = (e: SignInEvent) => (s = signInReducer(s, e));
    const rows = await this.rows();
    let row: ProviderRow | undefined;
    if (arg) {
      row = findProviderRow(rows, arg) ?? { label: protocolLabel(arg, announcedAuthTypes(this.d.capabilities())), description: arg, method: arg };
    } else if (!rows.length) {
      const message = 'the qwen-lsp server is not running, so there are no sign-in methods to offer yet; run "Qwen: Restart Server" or see "Qwen: Show Log"';
      return this.finish({ phase: 'failed', message }, undefined, {});
    } else {
      row = await pickProvider(rows);
      if (!row) return this.finish(step({ type: 'cancel' }), undefined, {});
    }
    const method = row.method;
    const p = row.provider;
    step({ type: 'methodChosen', method, needsKey: isApiKeyMethod(method) });
    // Qwen OAuth is a method, not a key: it is asked for by method whatever the catalogue says
    const params: AuthParams = p && isApiKeyMethod(method) ? { provider: p.id } : { method: method as AuthMethod };
    const target = { label: row.label, arg: p?.id ?? method };
    if (s.phase === 'askingKey') {
      if (p && p.regions.length > 1) {
        const region = await vscode.window.showQuickPick(
          p.regions.map((r, i) => ({ label: r.label, description: i === 0 ? `${r.id} · default` : r.id, detail: r.baseUrl, id: r.id })),
          { title: `Qwen: ${p.label} — region`, placeHolder: 'Where was your key issued? A key only works in its own region.', ignoreFocusOut: true },
        );
        if (!region) return this.finish(step({ type: 'cancel' }), target, params);
        params.region = region.id;
      }
      const hint = p?.keyHint ? ` (${p.keyHint})` : '';
      const apiKey = await vscode.window.showInputBox({
        title: `Qwen: ${row.label} API key`,
        prompt: `Paste your ${row.label} API key${hint}. It is kept in VS Code's secret storage and handed to qwen-lsp on each start.`,
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) => checkKeyPrefix(v, p),
      });
      if (!apiKey) return this.finish(step({ type: 'cancel' }), target, params);
      params.apiKey = apiKey.trim();
      if (p?.needsBaseUrl) {
        const baseUrl = await vscode.window.showInputBox({
          title: `Qwen: ${row.label} base URL`,
          prompt: `The base URL of your endpoint${p.keyHint ? ` (${p.keyHint})` : ''}.`,
          ignoreFocusOut: true,
          validateInput: checkBaseUrl,
        });
        if (!baseUrl) return this.finish(step({ type: 'cancel' }), target, params);
        params.baseUrl = baseUrl.trim();
      } else if (!p && method === 'openai') {
        const baseUrl = await vscode.window.showInputBox({
          title: 'Qwen: OpenAI-compatible base URL (optional)',
          prompt: 'Leave empty to use the base URL from settings.json or the protocol default.',
          ignoreFocusOut: true,
        });
        if (baseUrl === undefined) return this.finish(step({ type: 'cancel' }), target, params);
        if (baseUrl.trim()) params.baseUrl = baseUrl.trim();
      }
      if (p) {
        // default: the key stays in VS Code (SecretStorage); saving it like the CLI's /auth is opt-in
        const where = await vscode.window.showQuickPick(
          [
            { label: 'Keep the key in VS Code only', description: "secret storage, handed to qwen-lsp on each start; the CLI's files are left alone", persist: false },
            { label: 'Also save the sign-in for the Qwen Code CLI', description: "like the CLI's /auth: the key in ~/.qwen/.env (0600), the models and the selection in ~/.qwen/settings.json", persist: true },
          ],
          { title: `Qwen: ${p.label} — remember the sign-in`, ignoreFocusOut: true },
        );
        if (!where) return this.finish(step({ type: 'cancel' }), target, params);
        params.persist = where.persist;
      }
      step({ type: 'keyEntered' });
    }
    const final = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Qwen: signing in with ${row.label}`, cancellable: true },
      (progress, token) => this.ask(row!.label, params, () => s, step, progress, token),
    );
    return this.finish(final, target, params);
  }

  private async ask(
    label: string,
    params: AuthParams,
    state: () => SignInState,
    step: (e: SignInEvent) => SignInState,
    progress: vscode.Progress<{ message?: string }>,
    token: vscode.CancellationToken,
  ): Promise<SignInState> {
    const client = this.d.client();
    if (!client) return step({ type: 'authError', message: 'the qwen-lsp server is not running' });
    // Listen before asking, so an outcome reported right after the answer is not missed.
    const events: SignInEvent[] = [];
    let wake: (() => void) | undefined;
    const push = (e: SignInEvent) => {
      events.push(e);
      wake?.();
    };
    const subs = [this.d.onStatus((st) => push({ type: 'status', status: st })), token.onCancellationRequested(() => push({ type: 'cancel' }))];
    const timer = setInterval(() => push({ type: 'tick', now: Date.now() }), 1000);
    try {
      try {
        const res = await client.sendRequest<AuthResult>(Methods.auth, params, token);
        step({ type: 'authResult', result: res, now: Date.now() });
      } catch (e) {
        if (isCancellation(e) || token.isCancellationRequested) return step({ type: 'cancel' });
        this.d.reportError(e, `Qwen: signing in with ${label}`);
        return step({ type: 'authError', message: (e as Error).message ?? String(e) });
      }
      events.length = 0; // statuses sent before the answer describe the old state
      const w = state();
      if (w.phase === 'waitingForBrowser') {
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
      while (state().phase === 'waitingForBrowser') {
        if (!events.length) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        for (const e of events.splice(0)) step(e);
      }
    } finally {
      clearInterval(timer);
      subs.forEach((d) => d.dispose());
    }
    return state();
  }

  private async finish(final: SignInState, target: { label: string; arg: string } | undefined, params: AuthParams): Promise<SignInState> {
    if (final.phase === 'signedIn' && target) {
      if (params.apiKey) {
        await this.d.keys.save({
          method: final.method,
          ...(params.provider ? { provider: String(params.provider) } : {}),
          ...(params.region ? { region: String(params.region) } : {}),
          apiKey: String(params.apiKey),
          ...(params.baseUrl ? { baseUrl: String(params.baseUrl) } : {}),
        });
      } else {
        await this.d.keys.setLastMethod(final.method);
      }
      const model = this.d.status()?.model;
      void vscode.window.showInformationMessage(`Qwen: signed in with ${target.label}${model ? ` — model ${model.name || model.id}` : ''}.`);
    } else if (final.phase === 'failed') {
      // the server's message names the cause and the next step: shown as it is
      void vscode.window.showErrorMessage(`Qwen: sign-in failed: ${final.message}`, 'Try again', 'Show Log').then((a) => {
        if (a === 'Try again') void this.run(target?.arg);
        if (a === 'Show Log') this.d.log.show(true);
      });
    } else if (final.phase === 'cancelled') {
      void vscode.window.showInformationMessage('Qwen: sign-in cancelled.');
    }
    return final;
  }
}

const GET_KEY: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('link-external'), tooltip: 'Get an API key (opens the provider\'s page)' };

/** The provider quick pick; each row with a docs page has a button that opens it. */
async function pickProvider(rows: ProviderRow[]): Promise<ProviderRow | undefined> {
  type Item = vscode.QuickPickItem & { row: ProviderRow };
  const items: Item[] = rows.map((r) => ({ label: r.label, description: r.description, detail: r.detail, buttons: r.docsUrl ? [GET_KEY] : [], row: r }));
  return new Promise<ProviderRow | undefined>((resolve) => {
    const qp = vscode.window.createQuickPick<Item>();
    qp.title = 'Qwen: Sign in';
    qp.placeholder = 'Choose a provider (the button on a row opens the page where you get a key)';
    qp.items = items;
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    qp.ignoreFocusOut = true;
    let done = false;
    qp.onDidTriggerItemButton((e) => {
      if (e.item.row.docsUrl) void vscode.env.openExternal(vscode.Uri.parse(e.item.row.docsUrl));
    });
    qp.onDidAccept(() => {
      const item = qp.selectedItems[0] ?? qp.activeItems[0];
      if (!item) return;
      done = true;
      resolve(item.row);
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!done) resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
}
