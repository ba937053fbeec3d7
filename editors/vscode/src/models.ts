// Pure: turn `qwen/listModels` into quick-pick rows grouped by protocol with separators.
import { ModelInfo, ModelList, PROTOCOL_ORDER, protocolLabel } from './protocol';

export type PickRow =
  | { kind: 'separator'; label: string; protocol: string }
  | {
      kind: 'model';
      label: string;
      description: string;
      detail?: string;
      model: ModelInfo;
      picked: boolean;
    }
  | { kind: 'action'; label: string; description?: string; action: 'signIn' | 'showConfig' };

function protocolRank(p: string): number {
  const i = PROTOCOL_ORDER.indexOf(p as (typeof PROTOCOL_ORDER)[number]);
  return i === -1 ? PROTOCOL_ORDER.length : i;
}

/**
 * Group models by protocol (in the protocol order of docs/protocol.md, unknown protocols last,
 * models keeping the server's order inside a group), one separator per group, current model
 * marked, models without credentials flagged, and a trailing "Sign in…" action.
 */
export function buildModelPicker(list: ModelList): PickRow[] {
  const groups = new Map<string, ModelInfo[]>();
  for (const m of list.models ?? []) {
    const g = groups.get(m.protocol) ?? [];
    g.push(m);
    groups.set(m.protocol, g);
  }
  const protocols = [...groups.keys()].sort((a, b) => protocolRank(a) - protocolRank(b));
  const rows: PickRow[] = [];
  for (const p of protocols) {
    rows.push({ kind: 'separator', label: protocolLabel(p), protocol: p });
    for (const m of groups.get(p)!) {
      const isCurrent = m.current || (list.current != null && list.current === m.id && (!list.authType || list.authType === m.protocol));
      const name = (m.name && m.name.trim()) || m.id;
      const bits: string[] = [];
      if (name !== m.id) bits.push(m.id);
      if (isCurrent) bits.push('current');
      if (!m.hasCredentials) bits.push('no credentials — sign in first');
      rows.push({
        kind: 'model',
        label: `${isCurrent ? '$(check)' : m.hasCredentials ? '$(blank)' : '$(lock)'} ${name}`,
        description: bits.join(' · '),
        detail: m.baseUrl ?? undefined,
        model: m,
        picked: isCurrent,
      });
    }
  }
  rows.push({ kind: 'separator', label: '', protocol: '' });
  rows.push({ kind: 'action', label: '$(key) Sign in…', description: 'Qwen OAuth or an API key', action: 'signIn' });
  return rows;
}

/** The model rows only (what a test or a command argument can pick from). */
export function modelRows(rows: PickRow[]) {
  return rows.filter((r): r is Extract<PickRow, { kind: 'model' }> => r.kind === 'model');
}

/** Find a model by id (optionally protocol) for a `qwen.selectModel` command argument. */
export function findModel(list: ModelList, id: string, protocol?: string): ModelInfo | undefined {
  return (list.models ?? []).find((m) => m.id === id && (!protocol || m.protocol === protocol));
}
