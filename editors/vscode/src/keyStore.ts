// API keys typed into VS Code live in SecretStorage (never settings, never disk in clear).
// Which method was used last is not a secret and lives in globalState.
// Only structural types here, so tests can pass any SecretStorage / Memento.

export interface SecretStorageLike {
  get(key: string): Thenable<string | undefined>;
  store(key: string, value: string): Thenable<void>;
  delete(key: string): Thenable<void>;
}

export interface MementoLike {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

export interface StoredCredential {
  method: string;
  apiKey: string;
  baseUrl?: string;
}

const secretKey = (method: string) => `qwen.apiKey.${method}`;
const LAST = 'qwen.lastAuthMethod';
const baseUrlKey = (method: string) => `qwen.baseUrl.${method}`;

export class KeyStore {
  constructor(private readonly secrets: SecretStorageLike, private readonly state: MementoLike) {}

  async save(c: StoredCredential): Promise<void> {
    await this.secrets.store(secretKey(c.method), c.apiKey);
    await this.state.update(baseUrlKey(c.method), c.baseUrl || undefined);
    await this.state.update(LAST, c.method);
  }

  /** Remember that the user last signed in with a method that needs no stored key (Qwen OAuth). */
  async setLastMethod(method: string | undefined): Promise<void> {
    await this.state.update(LAST, method);
  }

  lastMethod(): string | undefined {
    return this.state.get<string>(LAST);
  }

  async get(method: string): Promise<StoredCredential | undefined> {
    const apiKey = await this.secrets.get(secretKey(method));
    if (!apiKey) return undefined;
    const baseUrl = this.state.get<string>(baseUrlKey(method));
    return { method, apiKey, ...(baseUrl ? { baseUrl } : {}) };
  }

  /** The credential to hand to a (re)started server: the one of the method used last, if any. */
  async forStartup(): Promise<StoredCredential | undefined> {
    const m = this.lastMethod();
    return m ? this.get(m) : undefined;
  }

  async clear(methods: readonly string[]): Promise<void> {
    for (const m of methods) {
      await this.secrets.delete(secretKey(m));
      await this.state.update(baseUrlKey(m), undefined);
    }
    await this.state.update(LAST, undefined);
  }
}
