// Types of the qwen-lsp custom protocol (docs/protocol.md). Pure: no `vscode` import.
// The request params come from the server's schema (protocol.generated.ts); results and
// notifications are described here by hand.

export type {
  AuthParams,
  ChatMessage,
  CommandArguments,
  CompleteParams,
  ListModelsParams,
  NoParams,
  RequestParams,
  SelectModelParams,
} from './protocol.generated';

import type { AuthParams } from './protocol.generated';

/** An auth method id as the schema types it. Which ones exist, in which order and under which
 * label is only known at run time, from the server (`authTypes` below). */
export type AuthMethod = NonNullable<AuthParams['method']>;

export type ServerState = 'ready' | 'signingIn' | 'needsAuth' | 'error';

export interface StatusModel {
  id: string;
  name?: string | null;
  protocol: string;
}

/** A configuration diagnostic (broken settings file, skipped entry, ...). */
export interface ConfigProblem {
  severity: 'error' | 'warning';
  message: string;
  file?: string;
  line?: number;
}

/** The last failed completion, until the next success or a change of model/auth/configuration. */
export interface LastError {
  kind: string;
  message: string;
  model?: string;
}

/** `qwen/status` notification params. */
export interface QwenStatus {
  state: ServerState;
  authType?: string | null;
  model?: StatusModel | null;
  message?: string | null;
  problems?: { count: number; first: ConfigProblem } | null;
  lastError?: LastError | null;
}

/** One entry of the `qwen/providers` catalogue. */
export interface ProviderRegion {
  id: string;
  label: string;
  baseUrl: string;
}
export interface Provider {
  id: string;
  label: string;
  authType: string;
  wireApi?: string;
  regions: ProviderRegion[];
  envKey?: string;
  keyHint?: string;
  keyPrefix?: string;
  docsUrl?: string;
  models?: { id: string; name?: string }[];
  listsModels?: boolean;
  needsBaseUrl?: boolean;
}
export interface ProvidersResult {
  providers: Provider[];
}

export interface AuthResult {
  status: 'signedIn' | 'pending' | 'failed';
  method?: string;
  verificationUri?: string;
  verificationUriComplete?: string;
  userCode?: string;
  expiresIn?: number;
  message?: string;
  provider?: string;
  region?: string;
  model?: string;
}

export interface ModelInfo {
  id: string;
  name?: string | null;
  protocol: string;
  baseUrl?: string | null;
  hasCredentials: boolean;
  current: boolean;
  /** where the entry comes from: settings/flags/variables, a signed-in preset, or an endpoint's listing */
  source?: 'configured' | 'preset' | 'discovered' | string;
  /** catalogue label of where the model lives (a preset's label, else the protocol's) */
  provider?: string | null;
  wireApi?: string;
}

export interface ModelList {
  authType?: string | null;
  current?: string | null;
  models: ModelInfo[];
}

/** `textDocument/inlineCompletion` result (LSP 3.18). */
export interface LspInlineCompletionItem {
  insertText: string | { kind: 'snippet'; value: string };
  filterText?: string;
  range?: { start: { line: number; character: number }; end: { line: number; character: number } };
}
export type LspInlineCompletionResult = { items: LspInlineCompletionItem[] } | LspInlineCompletionItem[] | null;

export interface CompleteResult {
  text: string;
  model?: string;
  protocol?: string;
  finishReason?: string | null;
}

export type ErrorKind = 'auth' | 'quota' | 'config' | 'upstream' | 'timeout' | 'cancelled' | 'invalidParams';
export const ERROR_KINDS: readonly ErrorKind[] = ['auth', 'quota', 'config', 'upstream', 'timeout', 'cancelled', 'invalidParams'];

export interface QwenErrorData {
  kind: ErrorKind;
  status?: number;
  retryAfter?: number;
  provider?: string;
}

/** One auth type (protocol) of the server's catalogue. */
export interface AuthTypeInfo {
  id: string;
  label: string;
}

/** `capabilities.experimental.qwen` in the initialize result. */
export interface QwenCapabilities {
  version?: string;
  methods?: string[];
  authMethods?: string[];
  /** the catalogue's auth types in their order, with their labels (newer servers) */
  authTypes?: AuthTypeInfo[];
}

export const Methods = {
  auth: 'qwen/auth',
  providers: 'qwen/providers',
  signOut: 'qwen/signOut',
  listModels: 'qwen/listModels',
  selectModel: 'qwen/selectModel',
  complete: 'qwen/complete',
  inlineCompletion: 'textDocument/inlineCompletion',
  config: 'qwen/config',
  status: 'qwen/status',
} as const;

/**
 * The auth types the server announced, in its order. An older server sends only `authMethods`
 * (their ids stand for their labels); before any server answered there are none. Malformed
 * entries are dropped rather than trusted.
 */
export function announcedAuthTypes(caps: QwenCapabilities | undefined): AuthTypeInfo[] {
  const typed = Array.isArray(caps?.authTypes) ? caps.authTypes : [];
  const ok = typed.filter((a): a is AuthTypeInfo => !!a && typeof a.id === 'string' && !!a.id && typeof a.label === 'string');
  if (ok.length) return ok.map((a) => ({ id: a.id, label: a.label || a.id }));
  const ids = Array.isArray(caps?.authMethods) ? caps.authMethods : [];
  return ids.filter((m): m is string => typeof m === 'string' && !!m).map((m) => ({ id: m, label: m }));
}

/** Human name of a protocol / auth method from the server's list; an id it did not announce
 * (or any id before it answered) is shown as it is. */
export function protocolLabel(p: string | null | undefined, authTypes: readonly AuthTypeInfo[] = []): string {
  if (!p) return 'no provider';
  return authTypes.find((a) => a.id === p)?.label ?? p;
}

/** Position of a protocol in the server's order; ids it did not announce sort after all of them. */
export function protocolRank(p: string, authTypes: readonly AuthTypeInfo[] = []): number {
  const i = authTypes.findIndex((a) => a.id === p);
  return i === -1 ? authTypes.length : i;
}

export function isApiKeyMethod(m: string): boolean {
  return m !== 'qwen-oauth';
}
