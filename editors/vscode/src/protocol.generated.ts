// Generated from docs/protocol.schema.json by scripts/gen-protocol.mjs (`npm run gen:protocol`);
// do not edit. The schema is generated from the server: `python -m qwen_lsp.schema`.

export interface AuthParams {
  method?: 'qwen-oauth' | 'openai' | 'openai-responses' | 'anthropic' | 'gemini' | 'vertex-ai';
  provider?: string;
  region?: string;
  apiKey?: string;
  baseUrl?: string;
  model?: string;
  /** default: false */
  persist?: boolean;
  /** default: "dotenv" */
  keyStore?: 'dotenv' | 'settings';
}

export interface ChatMessage {
  role: 'user' | 'assistant' | 'system';
  content: string;
}

export interface CompleteParams {
  prompt?: string;
  messages?: ChatMessage[];
  system?: string;
  model?: string;
  maxTokens?: number;
  temperature?: number;
  stop?: string[];
  textDocument?: TextDocumentId;
  position?: Position;
  partialResultToken?: number | string;
}

export interface ListModelsParams {
  /** default: false */
  refresh?: boolean;
}

/** Methods whose params are `{}` (anything else is ignored). */
export type NoParams = Record<string, never>;

export interface Position {
  line: number;
  character: number;
}

export interface SelectModelParams {
  id: string;
  protocol?: 'qwen-oauth' | 'openai' | 'openai-responses' | 'anthropic' | 'gemini' | 'vertex-ai';
  /** default: true */
  persist?: boolean;
}

export interface TextDocumentId {
  uri: string;
}

/** Params of each custom request, by method name. */
export interface RequestParams {
  'qwen/auth': AuthParams;
  'qwen/signOut': NoParams;
  'qwen/listModels': ListModelsParams;
  'qwen/selectModel': SelectModelParams;
  'qwen/complete': CompleteParams;
  'qwen/config': NoParams;
  'qwen/providers': NoParams;
}

/** `workspace/executeCommand` arguments of each command, by command name. */
export interface CommandArguments {
  'qwen.signIn': [] | [AuthParams | 'qwen-oauth' | 'openai' | 'openai-responses' | 'anthropic' | 'gemini' | 'vertex-ai'];
  'qwen.signOut': [] | [NoParams];
  'qwen.selectModel': [] | [SelectModelParams | string];
}
