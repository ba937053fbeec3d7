// Types of the qwen-lsp custom protocol (design.md §3). Pure: no `vscode` import.

export type Protocol = 'qwen-oauth' | 'openai' | 'anthropic' | 'gemini' | 'vertex-ai';
export type AuthMethod = Protocol;
export const PROTOCOL_ORDER: readonly Protocol[] = ['qwen-oauth', 'openai', 'anthropic', 'gemini', 'vertex-ai'];

export type ServerState = 'ready' | 'signingIn' | 'needsAuth' | 'error';

export interface StatusModel {
  id: string;
  name?: string | null;
  protocol: string;
}

/** `qwen/status` notification params. */
export interface QwenStatus {
  state: ServerState;
  authType?: string | null;
  model?: StatusModel | null;
  message?: string | null;
}

export interface AuthParams {
  method?: AuthMethod;
  apiKey?: string;
  baseUrl?: string;
  model?: string;
}

export interface AuthResult {
  status: 'signedIn' | 'pending' | 'failed';
  method?: string;
  verificationUri?: string;
  verificationUriComplete?: string;
  userCode?: string;
  expiresIn?: number;
  message?: string;
}

export interface ModelInfo {
  id: string;
  name?: string | null;
  protocol: string;
  baseUrl?: string | null;
  hasCredentials: boolean;
  current: boolean;
}

export interface ModelList {
  authType?: string | null;
  current?: string | null;
  models: ModelInfo[];
}

export interface SelectModelParams {
  id: string;
  protocol?: string;
  persist?: boolean;
}

export interface CompleteParams {
  prompt?: string;
  system?: string;
  model?: string;
  maxTokens?: number;
  temperature?: number;
  stop?: string[];
  textDocument?: { uri: string };
  position?: { line: number; character: number };
}

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

/** `capabilities.experimental.qwen` in the initialize result. */
export interface QwenCapabilities {
  version?: string;
  methods?: string[];
  authMethods?: string[];
}

export const Methods = {
  auth: 'qwen/auth',
  signOut: 'qwen/signOut',
  listModels: 'qwen/listModels',
  selectModel: 'qwen/selectModel',
  complete: 'qwen/complete',
  config: 'qwen/config',
  status: 'qwen/status',
} as const;

const PROTOCOL_LABELS: Record<string, string> = {
  'qwen-oauth': 'Qwen OAuth',
  openai: 'OpenAI-compatible',
  anthropic: 'Anthropic',
  gemini: 'Gemini',
  'vertex-ai': 'Vertex AI',
};

/** Human name of a protocol / auth method; unknown ids are shown as they are. */
export function protocolLabel(p: string | null | undefined): string {
  if (!p) return 'no provider';
  return PROTOCOL_LABELS[p] ?? p;
}

export function isApiKeyMethod(m: string): boolean {
  return m !== 'qwen-oauth';
}
