// Pure: map a JSON-RPC error from qwen-lsp (data.kind) to a notification with actions.
import { ERROR_KINDS, ErrorKind, QwenErrorData } from './protocol';

export type ErrorActionId = 'signIn' | 'openSettings' | 'showConfig' | 'showLog' | 'selectModel' | 'retry';

export interface ErrorView {
  kind: ErrorKind | 'unknown';
  severity: 'error' | 'warning' | 'none';
  message: string;
  actions: { title: string; id: ErrorActionId }[];
}

interface RpcErrorLike {
  code?: number;
  message?: string;
  data?: unknown;
}

export function errorKind(err: unknown): ErrorKind | undefined {
  const d = (err as RpcErrorLike | undefined)?.data as Partial<QwenErrorData> | undefined;
  const k = d && typeof d === 'object' ? d.kind : undefined;
  return k && (ERROR_KINDS as readonly string[]).includes(k) ? (k as ErrorKind) : undefined;
}

/** LSP RequestCancelled (-32800) and our `cancelled` kind are not worth a notification. */
export function isCancellation(err: unknown): boolean {
  const e = err as RpcErrorLike | undefined;
  return e?.code === -32800 || errorKind(err) === 'cancelled';
}

export function describeError(err: unknown, doing = 'Qwen'): ErrorView {
  const e = (err ?? {}) as RpcErrorLike;
  const data = (e.data && typeof e.data === 'object' ? e.data : {}) as Partial<QwenErrorData>;
  const kind = errorKind(err);
  const base = (e.message || String(err) || 'unknown error').trim();
  const provider = data.provider ? ` (${data.provider})` : '';
  const prefix = `${doing}${provider}: `;
  switch (kind) {
    case 'auth':
      return { kind, severity: 'error', message: prefix + base, actions: [{ title: 'Sign in again', id: 'signIn' }, { title: 'Show Log', id: 'showLog' }] };
    case 'quota': {
      const wait = typeof data.retryAfter === 'number' ? ` Retry after ${Math.ceil(data.retryAfter)} s.` : '';
      return { kind, severity: 'warning', message: prefix + base + wait, actions: [{ title: 'Select Model', id: 'selectModel' }] };
    }
    case 'config':
      return {
        kind,
        severity: 'error',
        message: prefix + base,
        actions: [{ title: 'Open settings.json', id: 'openSettings' }, { title: 'Show Configuration', id: 'showConfig' }],
      };
    case 'timeout':
      return { kind, severity: 'warning', message: prefix + base, actions: [{ title: 'Retry', id: 'retry' }, { title: 'Select Model', id: 'selectModel' }] };
    case 'upstream':
      return { kind, severity: 'error', message: prefix + base, actions: [{ title: 'Retry', id: 'retry' }, { title: 'Show Log', id: 'showLog' }] };
    case 'cancelled':
      return { kind, severity: 'none', message: prefix + base, actions: [] };
    case 'invalidParams':
      return { kind, severity: 'error', message: prefix + base, actions: [{ title: 'Show Log', id: 'showLog' }] };
    default:
      if (isCancellation(err)) return { kind: 'unknown', severity: 'none', message: prefix + base, actions: [] };
      return { kind: 'unknown', severity: 'error', message: prefix + base, actions: [{ title: 'Show Log', id: 'showLog' }] };
  }
}

/**
 * Inline completions fire on every pause in typing: show a given kind of error at most once per
 * `windowMs` so a broken key does not bury the editor in notifications.
 */
export class NotificationThrottle {
  private last = new Map<string, number>();
  constructor(private readonly windowMs = 60_000) {}
  shouldShow(key: string, now: number): boolean {
    const t = this.last.get(key);
    if (t !== undefined && now - t < this.windowMs) return false;
    this.last.set(key, now);
    return true;
  }
  reset(): void {
    this.last.clear();
  }
}

/** How many crash restarts are allowed within a sliding window before giving up. */
export class RestartBudget {
  private times: number[] = [];
  constructor(private readonly max = 4, private readonly windowMs = 180_000) {}
  tryRestart(now: number): boolean {
    this.times = this.times.filter((t) => now - t < this.windowMs);
    if (this.times.length >= this.max) return false;
    this.times.push(now);
    return true;
  }
  reset(): void {
    this.times = [];
  }
}
