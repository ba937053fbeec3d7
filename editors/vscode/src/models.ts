// Pure: turn `qwen/listModels` into quick-pick rows grouped by provider with separators.
import { AuthTypeInfo, ModelInfo, ModelList, protocolLabel, protocolRank } from './protocol';

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
  | { kind: 'action'; label: string; description?: string; action: 'signIn' | 'showConfig' | 'refresh' };

/** The group a model is shown under: the server's provider label, else its protocol's. */
export function groupLabel(m: ModelInfo, authTypes: readonly AuthTypeInfo[] = []): string {
  return (m.provider && m.provider.trim()) || protocolLabel(m.protocol, authTypes);
}

const SOURCE_LABEL: Record<string, string> = { preset: 'preset', discovered: 'discovered' };

/**
 * Group models by provider label (groups in the server's order of auth types, `authTypes` of
 * its capabilities, by their first model; protocols it did not announce last; the server's order kept inside a group and between groups
 * of one protocol), one separator per group, current model marked, the source shown (preset /
 * discovered; configured entries say nothing), models without credentials flagged, then
 * "Refresh model list" and "Sign in…" actions.
 */
export function buildModelPicker(list: ModelList, authTypes: readonly AuthTypeInfo[] = []): PickRow[] {
  const groups = new Map<string, ModelInfo[]>();
  for (const m of list.models ?? []) {
    const k = groupLabel(m, authTypes);
    const g = groups.get(k) ?? [];
    g.push(m);
    groups.set(k, g);
  }
  const labels = [...groups.keys()];
  const order = labels.map((l, i) => ({ l, i, r: protocolRank(groups.get(l)![0].protocol, authTypes) })).sort((a, b) => a.r - b.r || a.i - b.i);
  const rows: PickRow[] = [];
  for (const { l } of order) {
    const models = groups.get(l)!;
    rows.push({ kind: 'separator', label: l, protocol: models[0].protocol });
    for (const m of models) {
      const isCurrent = m.current || (list.current != null && list.current === m.id && (!list.authType || list.authType === m.protocol));
      const name = (m.name && m.name.trim()) || m.id;
      const bits: string[] = [];
      if (name !== m.id) bits.push(m.id);
      if (isCurrent) bits.push('current');
      if (m.source && SOURCE_LABEL[m.source]) bits.push(SOURCE_LABEL[m.source]);
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
  rows.push({ kind: 'action', label: '$(refresh) Refresh model list', description: 'ask the endpoints again for the models they serve', action: 'refresh' });
  rows.push({ kind: 'action', label: '$(key) Sign in…', description: 'Qwen OAuth or a provider\'s API key', action: 'signIn' });
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
