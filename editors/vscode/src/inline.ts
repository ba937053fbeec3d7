// Inline completions (ghost text) through qwen-lsp's `qwen/complete` with document context.
// Debounced; VS Code cancels the token on the next keystroke, which cancels the JSON-RPC request
// ($/cancelRequest), which aborts the upstream request in the server.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { isCancellation } from './errors';
import { CompleteParams, CompleteResult, Methods, QwenStatus } from './protocol';

export interface InlineSettings {
  enable: boolean;
  debounceMs: number;
  maxTokens: number;
}

export interface InlineDeps {
  client: () => Pick<LanguageClient, 'sendRequest' | 'code2ProtocolConverter'> | undefined;
  status: () => QwenStatus | undefined;
  settings: () => InlineSettings;
  onError: (err: unknown) => void;
  log?: (m: string) => void;
}

/** Resolves true after `ms`, or false as soon as the token is cancelled. */
export function debounce(ms: number, token: vscode.CancellationToken): Promise<boolean> {
  if (token.isCancellationRequested) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const sub = token.onCancellationRequested(() => {
      clearTimeout(t);
      sub.dispose();
      resolve(false);
    });
    const t = setTimeout(() => {
      sub.dispose();
      resolve(!token.isCancellationRequested);
    }, ms);
  });
}

export class QwenInlineCompletionProvider implements vscode.InlineCompletionItemProvider {
  constructor(private readonly deps: InlineDeps) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const cfg = this.deps.settings();
    if (!cfg.enable) return undefined;
    if (this.deps.status()?.state !== 'ready') return undefined;
    const automatic = context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic;
    if (automatic && !(await debounce(cfg.debounceMs, token))) return undefined;
    const client = this.deps.client();
    if (!client || token.isCancellationRequested) return undefined;
    const params: CompleteParams = {
      textDocument: { uri: client.code2ProtocolConverter.asUri(document.uri) },
      position: { line: position.line, character: position.character },
      maxTokens: cfg.maxTokens,
    };
    let res: CompleteResult;
    try {
      res = await client.sendRequest<CompleteResult>(Methods.complete, params, token);
    } catch (e) {
      if (!isCancellation(e) && !token.isCancellationRequested) this.deps.onError(e);
      return undefined;
    }
    if (token.isCancellationRequested || !res?.text) return undefined;
    this.deps.log?.(`inline completion: ${res.text.length} chars from ${res.protocol ?? '?'}/${res.model ?? '?'}`);
    return [new vscode.InlineCompletionItem(res.text, new vscode.Range(position, position))];
  }
}
