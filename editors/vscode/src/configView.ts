// Pure: render the `qwen/config` result (every value with its source) as Markdown.

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v === '' ? '""' : v;
  return JSON.stringify(v);
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A leaf like `{value, source}` (any extra scalar fields are appended). */
function isValueWithSource(v: unknown): v is Record<string, unknown> {
  return isPlainObject(v) && 'value' in v && ('source' in v || 'from' in v) && !isPlainObject(v.value) && !Array.isArray(v.value);
}

function renderValueRow(key: string, v: Record<string, unknown>): string {
  const src = scalar(v.source ?? v.from);
  const rest = Object.entries(v)
    .filter(([k]) => !['value', 'source', 'from'].includes(k))
    .map(([k, x]) => `${k}: ${scalar(x)}`)
    .join('; ');
  return `| ${escapeCell(key)} | \`${escapeCell(scalar(v.value))}\` | ${escapeCell(src)}${rest ? ` (${escapeCell(rest)})` : ''} |`;
}

function renderSection(title: string, v: unknown, depth: number, out: string[]): void {
  const h = '#'.repeat(Math.min(depth + 2, 6));
  if (isPlainObject(v)) {
    const entries = Object.entries(v);
    const leaves = entries.filter(([, x]) => !isPlainObject(x) && !Array.isArray(x));
    const vws = entries.filter(([, x]) => isValueWithSource(x));
    const nested = entries.filter(([, x]) => (isPlainObject(x) && !isValueWithSource(x)) || Array.isArray(x));
    out.push(`${h} ${title}`, '');
    if (leaves.length || vws.length) {
      out.push('| Key | Value | Source |', '|---|---|---|');
      for (const [k, x] of leaves) out.push(`| ${escapeCell(k)} | \`${escapeCell(scalar(x))}\` | |`);
      for (const [k, x] of vws) out.push(renderValueRow(k, x as Record<string, unknown>));
      out.push('');
    }
    for (const [k, x] of nested) renderSection(`${title} › ${k}`, x, depth + 1, out);
    return;
  }
  if (Array.isArray(v)) {
    out.push(`${h} ${title} (${v.length})`, '');
    if (v.length === 0) out.push('_none_', '');
    const allScalar = v.every((x) => !isPlainObject(x) && !Array.isArray(x));
    if (allScalar) {
      for (const x of v) out.push(`- ${scalar(x)}`);
      out.push('');
      return;
    }
    v.forEach((x, i) => {
      if (isPlainObject(x)) {
        const name = scalar(x.id ?? x.name ?? x.file ?? x.path ?? i + 1);
        out.push(`- **${name}**: ${Object.entries(x).filter(([k]) => !['id'].includes(k)).map(([k, y]) => `${k}: \`${isPlainObject(y) || Array.isArray(y) ? JSON.stringify(y) : scalar(y)}\``).join(', ')}`);
      } else {
        out.push(`- ${JSON.stringify(x)}`);
      }
    });
    out.push('');
    return;
  }
  out.push(`${h} ${title}`, '', `\`${scalar(v)}\``, '');
}

export function renderConfigMarkdown(config: unknown, header = 'Qwen: effective configuration'): string {
  const out: string[] = [`# ${header}`, '', 'Secrets are masked by the server. Refresh with "Qwen: Show Configuration".', ''];
  if (isPlainObject(config)) {
    const top = Object.entries(config);
    const scalars = top.filter(([, x]) => !isPlainObject(x) && !Array.isArray(x));
    if (scalars.length) {
      out.push('| Key | Value |', '|---|---|');
      for (const [k, x] of scalars) out.push(`| ${escapeCell(k)} | \`${escapeCell(scalar(x))}\` |`);
      out.push('');
    }
    // every top-level value with its source in one table, then the sections
    const sourced = top.filter(([, x]) => isPlainObject(x) && isValueWithSource(x));
    if (sourced.length) {
      out.push('| Key | Value | Source |', '|---|---|---|');
      for (const [k, x] of sourced) out.push(renderValueRow(k, x as Record<string, unknown>));
      out.push('');
    }
    for (const [k, x] of top) {
      if ((isPlainObject(x) && !isValueWithSource(x)) || Array.isArray(x)) renderSection(k, x, 0, out);
    }
  } else {
    out.push('```json', JSON.stringify(config, null, 2), '```', '');
  }
  out.push('<details><summary>Raw JSON</summary>', '', '```json', JSON.stringify(config, null, 2), '```', '', '</details>', '');
  return out.join('\n');
}
