// Pure: the "Qwen: Sign in" choices from the server's `qwen/providers` catalogue. Nothing about
// providers, regions, endpoints or models is known here; it all comes from the server.
import { AuthTypeInfo, Provider } from './protocol';

export interface ProviderRow {
  label: string;
  description: string;
  detail?: string;
  /** the catalogue entry, or undefined for a bare method (a server without `qwen/providers`) */
  provider?: Provider;
  method: string;
  /** where to get a key (opened with a button on the row) */
  docsUrl?: string;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * One row per catalogue provider whose method the server offers (`authMethods`), in the
 * catalogue's order. Description: the key hint and how many regions there are; detail: the
 * page where a key is obtained.
 */
export function buildProviderRows(providers: readonly Provider[], authMethods?: readonly string[]): ProviderRow[] {
  const offered = authMethods?.length ? new Set(authMethods) : undefined;
  return providers
    .filter((p) => !offered || offered.has(p.authType))
    .map((p) => {
      const bits: string[] = [];
      if (p.authType === 'qwen-oauth') bits.push('browser sign-in');
      else if (p.keyHint) bits.push(`key ${p.keyHint}`);
      else bits.push('API key');
      if (p.needsBaseUrl) bits.push('your base URL');
      if (p.regions.length > 1) bits.push(plural(p.regions.length, 'region'));
      return {
        label: p.label,
        description: bits.join(' · '),
        detail: p.docsUrl,
        provider: p,
        method: p.authType,
        docsUrl: p.docsUrl,
      };
    });
}

/** Without a catalogue (an older server): one row per announced auth type, under its label. */
export function methodRows(authTypes: readonly AuthTypeInfo[]): ProviderRow[] {
  return authTypes.map((a) => ({ label: a.label, description: a.id, method: a.id }));
}

/** Find the row a `qwen.signIn` argument names: a provider id first, else a method. */
export function findProviderRow(rows: readonly ProviderRow[], arg: string): ProviderRow | undefined {
  return rows.find((r) => r.provider?.id === arg) ?? rows.find((r) => !r.provider && r.method === arg);
}

/** Client-side hint only (the server refuses a wrong key anyway): a key lacking the provider's prefix. */
export function checkKeyPrefix(key: string, p: Provider | undefined): string | undefined {
  const k = key.trim();
  if (!k) return 'The key must not be empty';
  if (p?.keyPrefix && !k.startsWith(p.keyPrefix)) {
    return `${p.label} keys start with "${p.keyPrefix}"${p.docsUrl ? ` — get one at ${p.docsUrl}` : ''}`;
  }
  return undefined;
}

/** A base URL the user typed: http(s) with a host. */
export function checkBaseUrl(v: string): string | undefined {
  const t = v.trim();
  if (!t) return 'This provider needs the base URL of your endpoint';
  try {
    const u = new URL(t);
    if ((u.protocol === 'https:' || u.protocol === 'http:') && u.host) return undefined;
  } catch {
    /* reported below */
  }
  return 'Enter an http(s) URL with a host, e.g. https://host.example/v1';
}
