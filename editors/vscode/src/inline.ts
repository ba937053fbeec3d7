// Inline completions (ghost text) through the standard `textDocument/inlineCompletion`, where the
// server cleans the model's answer (code fences, repeated prefix) into an insertion.
// Debounced; VS Code cancels the token on the next keystroke, which cancels the JSON-RPC request
// ($/cancelRequest), which aborts the upstream request in the server. A failure is reported by
// the server in `qwen/status` (`lastError`), which the status item shows.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { isCancellation } from './errors';
import { LspInlineCompletionItem, LspInlineCompletionResult, Methods, QwenStatus } from './protocol';

export interface InlineSettings {
  enable: boolean;
  debounceMs: number;
}

export interface InlineDeps {
  client: () => Pick<LanguageClient, 'sendRequest' | 'code2ProtocolConverter' | 'protocol2CodeConverter'> | undefined;
  status: () => QwenStatus | undefined;
  settings: () => InlineSettings;
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

export function resultItems(res: LspInlineCompletionResult | undefined): LspInlineCompletionItem[] {
  if (!res) return [];
  return Array.isArray(res) ? res : (res.items ?? []);
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
    const params = {
      textDocument: { uri: client.code2ProtocolConverter.asUri(document.uri) },
      position: { line: position.line, character: position.character },
      context: { triggerKind: automatic ? 2 : 1 }, // LSP: Invoked = 1, Automatic = 2
    };
    let res: LspInlineCompletionResult;
    try {
      res = await client.sendRequest<LspInlineCompletionResult>(Methods.inlineCompletion, params, token);
    } catch (e) {
      if (!isCancellation(e) && !token.isCancellationRequested) this.deps.log?.(`inline completion failed: ${(e as Error).message ?? e}`);
      return undefined;
    }
    if (token.isCancellationRequested) return undefined;
    const items = resultItems(res).filter((i) => (typeof i.insertText === 'string' ? i.insertText : i.insertText?.value));
    this.deps.log?.(`inline completion: ${items.length} item(s)`);
    return items.map((i) => {
      const range = i.range ? client.protocol2CodeConverter.asRange(i.range) : new vscode.Range(position, position);
      const text = typeof i.insertText === 'string' ? i.insertText : new vscode.SnippetString(i.insertText.value);
      return new vscode.InlineCompletionItem(text, range);
    });
  }
}
