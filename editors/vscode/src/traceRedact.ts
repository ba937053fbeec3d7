// vscode-languageclient's "verbose" trace prints every message's params, `initialize` included,
// and a direct session's `initialize` carries `initializationOptions.qwenSession`: the window's
// whole environment (API keys too). The trace channel hides that value before anything is kept.

const FIELD = '"qwenSession"';
export const HIDDEN = '"(hidden: the window\'s environment and launch flags)"';

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\r' || c === '\t';
}

/** Index just past the JSON value that starts at `i` (the end of `t` when it is cut short). */
function valueEnd(t: string, i: number): number {
  let depth = 0;
  for (let j = i; j < t.length; j++) {
    const c = t[j];
    if (c === '"') {
      for (j++; j < t.length && t[j] !== '"'; j++) if (t[j] === '\\') j++;
      if (depth === 0) return Math.min(j + 1, t.length);
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      if (depth === 0) return j;
      if (--depth === 0) return j + 1;
    } else if (depth === 0 && (c === ',' || isSpace(c))) {
      return j;
    }
  }
  return t.length;
}

/** `text` with the value of every `"qwenSession": ...` replaced by a placeholder. */
export function hideSessionField(text: string): string {
  let out = '';
  let from = 0;
  for (;;) {
    const at = text.indexOf(FIELD, from);
    if (at < 0) return out + text.slice(from);
    let i = at + FIELD.length;
    while (isSpace(text[i])) i++;
    if (text[i] !== ':') {
      out += text.slice(from, i);
      from = i;
      continue;
    }
    i++;
    while (isSpace(text[i])) i++;
    out += text.slice(from, i) + HIDDEN;
    from = valueEnd(text, i);
  }
}

const WRITERS = new Set(['append', 'appendLine', 'replace', 'trace', 'debug', 'info', 'warn', 'error']);

/** `channel`, with every string written to it passed through hideSessionField. */
export function hidingSessionField<T extends object>(channel: T): T {
  return new Proxy(channel, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (typeof prop === 'string' && WRITERS.has(prop)) {
        return (...args: unknown[]) => v.apply(target, args.map((a) => (typeof a === 'string' ? hideSessionField(a) : a)));
      }
      return v.bind(target);
    },
  });
}
