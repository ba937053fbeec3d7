// Pure rendering of the `qwen/status` notification into what the status bar item shows.
import { QwenStatus, protocolLabel } from './protocol';

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
  command: 'qwen.selectModel' | 'qwen.signIn' | 'qwen.showLog';
}

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
  };
}

export function renderStopped(reason?: string): StatusView {
  return {
    text: '$(debug-disconnect) Qwen: stopped',
    tooltip: `Qwen: the qwen-lsp server is not running${reason ? ` (${reason})` : ''}. Click to show the log.`,
    severity: 'error',
    stateLabel: 'stopped',
    command: 'qwen.showLog',
  };
}

export function modelDisplayName(status: Pick<QwenStatus, 'model'>): string | undefined {
  const m = status.model;
  if (!m) return undefined;
  return (m.name && m.name.trim()) || m.id;
}

export function renderStatus(status: QwenStatus): StatusView {
  const st = STATE[status.state] ?? { icon: '$(question)', label: String(status.state), severity: 'warning' as const };
  const name = modelDisplayName(status);
  const provider = protocolLabel(status.model?.protocol ?? status.authType);
  let text: string;
  if (status.state === 'ready') {
    text = `${st.icon} ${name ?? 'Qwen'}`;
  } else {
    text = `${st.icon} ${name ?? 'Qwen'}: ${st.label}`;
  }
  const lines = [
    name ? `Qwen model: ${name}${status.model && name !== status.model.id ? ` (${status.model.id})` : ''}` : 'Qwen: no model selected',
    `Provider: ${provider}`,
    `State: ${st.label}`,
  ];
  if (status.message) lines.push(status.message);
  lines.push(status.state === 'needsAuth' ? 'Click to pick a model or sign in' : 'Click to switch model');
  return { text, tooltip: lines.join('\n'), severity: st.severity, stateLabel: st.label, command: 'qwen.selectModel' };
}
