// API keys typed into VS Code live in SecretStorage (never settings, never disk in clear), one per
// catalogue provider id (or per method for a sign-in without a provider). Which one was used
// last, and its region / base URL, are not secrets and live in globalState.
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
  /** catalogue provider id (`qwen/providers`); absent for a bare-method sign-in */
  provider?: string;
  region?: string;
  apiKey: string;
  baseUrl?: string;
}

// A provider id and a method can be spelled alike ("openai"): separate namespaces.
const slot = (c: { method: string; provider?: string }) => (c.provider ? `provider.${c.provider}` : c.method);
const secretKey = (s: string) => `qwen.apiKey.${s}`;
const metaKey = (s: string) => `qwen.baseUrl.${s}`;
const LAST = 'qwen.lastAuthMethod';
const SLOTS = 'qwen.storedKeySlots';

interface Meta {
  method: string;
  provider?: string;
  region?: string;
  baseUrl?: string;
}

export class KeyStore {
  constructor(private readonly secrets: SecretStorageLike, private readonly state: MementoLike) {}

  async save(c: StoredCredential): Promise<void> {
    const s = slot(c);
    await this.secrets.store(secretKey(s), c.apiKey);
    const meta: Meta = { method: c.method, ...(c.provider ? { provider: c.provider } : {}), ...(c.region ? { region: c.region } : {}), ...(c.baseUrl ? { baseUrl: c.baseUrl } : {}) };
    // a bare method keeps the old shape (just its base URL), so earlier versions read it back
    await this.state.update(metaKey(s), c.provider ? meta : c.baseUrl || undefined);
    await this.state.update(SLOTS, [...new Set([...(this.state.get<string[]>(SLOTS) ?? []), s])]);
    await this.state.update(LAST, s);
  }

  /** Remember that the user last signed in with a method that needs no stored key (Qwen OAuth). */
  async setLastMethod(method: string | undefined): Promise<void> {
    await this.state.update(LAST, method);
  }

  lastMethod(): string | undefined {
    return this.state.get<string>(LAST);
  }

  /** The stored key of a method (`get("openai")`) or a provider (`get("openai", "coding-plan")`). */
  async get(method: string, provider?: string): Promise<StoredCredential | undefined> {
    return this.read(slot({ method, provider }));
  }

  private async read(s: string): Promise<StoredCredential | undefined> {
    const apiKey = await this.secrets.get(secretKey(s));
    if (!apiKey) return undefined;
    const meta = this.state.get<Meta | string>(metaKey(s));
    if (s.startsWith('provider.')) {
      const m = (typeof meta === 'object' && meta) || { method: 'openai', provider: s.slice('provider.'.length) };
      return { ...m, apiKey };
    }
    return { method: s, apiKey, ...(typeof meta === 'string' && meta ? { baseUrl: meta } : {}) };
  }

  /** The credential to hand to a (re)started server: the one used last, if any. */
  async forStartup(): Promise<StoredCredential | undefined> {
    const s = this.lastMethod();
    return s ? this.read(s) : undefined;
  }

  /** Forget every stored key: the given methods and every provider slot ever saved. */
  async clear(methods: readonly string[]): Promise<void> {
    const slots = new Set([...methods, ...(this.state.get<string[]>(SLOTS) ?? [])]);
    for (const s of slots) {
      await this.secrets.delete(secretKey(s));
      await this.state.update(metaKey(s), undefined);
    }
    await this.state.update(SLOTS, undefined);
    await this.state.update(LAST, undefined);
  }
}
