// Pure rendering of the `qwen/status` notification into what the status bar item shows.
import { AuthTypeInfo, ConfigProblem, LastError, QwenStatus, protocolLabel } from './protocol';

export type StatusSeverity = 'normal' | 'warning' | 'error';

export interface StatusView {
  /** Status bar text, with a codicon. */
  text: string;
  /** Plain-text tooltip: model, provider, state, and the server's message if any. */
  tooltip: string;
  severity: StatusSeverity;
  /** Short words for the state, also used by tests and the accessibility label. */
  stateLabel: string;
  /** Command run on click. */
  command: StatusCommand;
  /** Links offered at the end of the tooltip. */
  actions: { title: string; command: StatusCommand }[];
}

export type StatusCommand = 'qwen.selectModel' | 'qwen.signIn' | 'qwen.showLog' | 'qwen.showProblem' | 'qwen.showLastError' | 'qwen.showConfig';

const STATE: Record<string, { icon: string; label: string; severity: StatusSeverity }> = {
  ready: { icon: '$(sparkle)', label: 'signed in', severity: 'normal' },
  signingIn: { icon: '$(sync~spin)', label: 'signing in', severity: 'normal' },
  needsAuth: { icon: '$(key)', label: 'needs sign-in', severity: 'warning' },
  error: { icon: '$(error)', label: 'error', severity: 'error' },
};

/** Status before the server has said anything (starting, or after it stopped). */
export function renderStarting(): StatusView {
  return {
    text: '$(loading~spin) Qwen',
    tooltip: 'Qwen: starting the qwen-lsp server…',
    severity: 'normal',
    stateLabel: 'starting',
    command: 'qwen.showLog',
    actions: [{ title: 'Show Log', command: 'qwen.showLog' }],
  };
}

export function renderStopped(reason?: string): StatusView {
  return {
    text: '$(debug-disconnect) Qwen: stopped',
    tooltip: `Qwen: the qwen-lsp server is not running${reason ? ` (${reason})` : ''}. Click to show the log.`,
    severity: 'error',
    stateLabel: 'stopped',
    command: 'qwen.showLog',
    actions: [{ title: 'Show Log', command: 'qwen.showLog' }],
  };
}

export function modelDisplayName(status: Pick<QwenStatus, 'model'>): string | undefined {
  const m = status.model;
  if (!m) return undefined;
  return (m.name && m.name.trim()) || m.id;
}

/** "settings.json line 3: ..." with the file shortened to its name. */
export function describeProblem(p: ConfigProblem, homeDir?: string): string {
  let where = '';
  if (p.file) {
    const f = homeDir && p.file.startsWith(homeDir + '/') ? `~${p.file.slice(homeDir.length)}` : p.file;
    where = `${f}${typeof p.line === 'number' ? ` line ${p.line}` : ''}: `;
  }
  return `${where}${p.message}`;
}

const ERROR_KIND_LABEL: Record<string, string> = {
  auth: 'sign-in rejected',
  quota: 'rate limited',
  config: 'configuration error',
  timeout: 'timed out',
  upstream: 'provider error',
};

export function describeLastError(e: LastError): string {
  return `Last completion${e.model ? ` with ${e.model}` : ''} failed (${ERROR_KIND_LABEL[e.kind] ?? e.kind}): ${e.message}`;
}

/** `authTypes`: the server's labels for the provider line (an id without one is shown as it is). */
export function renderStatus(status: QwenStatus, homeDir?: string, authTypes: readonly AuthTypeInfo[] = []): StatusView {
  const st = STATE[status.state] ?? { icon: '$(question)', label: String(status.state), severity: 'warning' as const };
  const name = modelDisplayName(status);
  const provider = protocolLabel(status.model?.protocol ?? status.authType, authTypes);
  let text = status.state === 'ready' ? `${st.icon} ${name ?? 'Qwen'}` : `${st.icon} ${name ?? 'Qwen'}: ${st.label}`;
  let severity: StatusSeverity = st.severity;
  let command: StatusCommand = 'qwen.selectModel';
  const lines = [
    name ? `Qwen model: ${name}${status.model && name !== status.model.id ? ` (${status.model.id})` : ''}` : 'Qwen: no model selected',
    `Provider: ${provider}`,
    `State: ${st.label}`,
  ];
  if (status.message) lines.push(status.message);
  const actions: StatusView['actions'] = [];
  const problems = status.problems && status.problems.count > 0 ? status.problems : undefined;
  if (status.lastError) {
    // the most recent thing that went wrong is what the user is looking at
    text = `$(error) ${name ?? 'Qwen'}: ${ERROR_KIND_LABEL[status.lastError.kind] ?? 'completion failed'}`;
    severity = 'error';
    command = 'qwen.showLastError';
    lines.push(describeLastError(status.lastError));
    actions.push({ title: 'Show error', command: 'qwen.showLastError' });
  }
  if (problems) {
    const n = problems.count;
    const first = problems.first;
    lines.push(`${n === 1 ? 'Configuration problem' : `${n} configuration problems, the first`}: ${describeProblem(first, homeDir)}`);
    actions.push({ title: first.file ? `Open ${first.file.split(/[\\/]/).pop()}${typeof first.line === 'number' ? ` at line ${first.line}` : ''}` : 'Show the problem', command: 'qwen.showProblem' });
    if (!status.lastError) {
      text = `$(warning) ${name ?? 'Qwen'}: ${n === 1 ? '1 config problem' : `${n} config problems`}`;
      if (first.severity === 'error' || severity === 'normal') severity = first.severity === 'error' ? 'error' : 'warning';
      command = 'qwen.showProblem';
    }
  }
  actions.push(status.state === 'needsAuth' ? { title: 'Sign in', command: 'qwen.signIn' } : { title: 'Switch model', command: 'qwen.selectModel' });
  actions.push({ title: 'Show Configuration', command: 'qwen.showConfig' });
  return { text, tooltip: lines.join('\n'), severity, stateLabel: st.label, command, actions };
}
