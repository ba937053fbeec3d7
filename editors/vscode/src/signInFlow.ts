// VS Code glue for "Qwen: Sign in": pick a method, ask for a key (kept in SecretStorage) or run
// the Qwen OAuth device flow with a progress notification. Decisions are in signin.ts.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { isCancellation } from './errors';
import { KeyStore } from './keyStore';
import { AuthResult, isApiKeyMethod, Methods, PROTOCOL_ORDER, protocolLabel, QwenCapabilities, QwenStatus } from './protocol';
import { describeWaiting, isTerminal, SignInEvent, signInReducer, SignInState } from './signin';

const METHOD_DETAIL: Record<string, string> = {
  'qwen-oauth': 'Sign in with your Qwen account in the browser',
  openai: 'API key for an OpenAI-compatible endpoint (OpenAI, DashScope/Bailian, Coding Plan, …)',
  anthropic: 'Anthropic API key',
  gemini: 'Gemini API key',
  'vertex-ai': 'Vertex AI API key',
};

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

  private async flow(methodArg?: string): Promise<SignInState> {
    let s: SignInState = signInReducer({ phase: 'idle' }, { type: 'start' });
    const step = (e: SignInEvent) => (s = signInReducer(s, e));
    const caps = this.d.capabilities();
    const offered = (caps.authMethods?.length ? caps.authMethods : [...PROTOCOL_ORDER]).map(String);
    let method = methodArg;
    if (!method) {
      const pick = await vscode.window.showQuickPick(
        offered.map((m) => ({ label: protocolLabel(m), description: m, detail: METHOD_DETAIL[m], method: m })),
        { title: 'Qwen: Sign in', placeHolder: 'How do you want to sign in?', ignoreFocusOut: true },
      );
      if (!pick) return this.finish(step({ type: 'cancel' }), undefined, {});
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
      if (!apiKey) return this.finish(step({ type: 'cancel' }), method, params);
      params.apiKey = apiKey.trim();
      if (method === 'openai') {
        const baseUrl = await vscode.window.showInputBox({
          title: 'Qwen: OpenAI-compatible base URL (optional)',
          prompt: 'Leave empty to use the base URL from settings.json or the default https://api.openai.com/v1.',
          placeHolder: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
          ignoreFocusOut: true,
        });
        if (baseUrl === undefined) return this.finish(step({ type: 'cancel' }), method, params);
        if (baseUrl.trim()) params.baseUrl = baseUrl.trim();
      }
      step({ type: 'keyEntered' });
    }
    const final = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Qwen: signing in with ${protocolLabel(method)}`, cancellable: true },
      (progress, token) => this.ask(method!, params, () => s, step, progress, token),
    );
    return this.finish(final, method, params);
  }

  private async ask(
    method: string,
    params: Record<string, unknown>,
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
        this.d.reportError(e, `Qwen: signing in with ${protocolLabel(method)}`);
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

  private async finish(final: SignInState, method: string | undefined, params: Record<string, unknown>): Promise<SignInState> {
    if (final.phase === 'signedIn' && method) {
      if (params.apiKey) {
        await this.d.keys.save({ method, apiKey: String(params.apiKey), baseUrl: params.baseUrl as string | undefined });
      } else {
        await this.d.keys.setLastMethod(method);
      }
      const model = this.d.status()?.model;
      void vscode.window.showInformationMessage(`Qwen: signed in with ${protocolLabel(method)}${model ? ` — model ${model.name || model.id}` : ''}.`);
    } else if (final.phase === 'failed') {
      void vscode.window.showErrorMessage(`Qwen: sign-in failed: ${final.message}`, 'Try again', 'Show Log').then((a) => {
        if (a === 'Try again') void this.run(method);
        if (a === 'Show Log') this.d.log.show(true);
      });
    } else if (final.phase === 'cancelled') {
      void vscode.window.showInformationMessage('Qwen: sign-in cancelled.');
    }
    return final;
  }
}
