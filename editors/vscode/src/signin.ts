// Pure sign-in state machine. The glue (signInFlow.ts) feeds it the server's answers and
// `qwen/status` notifications and renders whatever state comes out.
import { AuthResult, QwenStatus } from './protocol';

export type SignInState =
  | { phase: 'idle' }
  | { phase: 'choosing' }
  | { phase: 'askingKey'; method: string }
  | { phase: 'requesting'; method: string }
  | {
      phase: 'waitingForBrowser';
      method: string;
      userCode?: string;
      verificationUri?: string;
      verificationUriComplete?: string;
      expiresAt?: number;
    }
  | { phase: 'signedIn'; method: string; model?: string }
  | { phase: 'failed'; method?: string; message: string }
  | { phase: 'cancelled'; method?: string };

export type SignInEvent =
  | { type: 'start' }
  | { type: 'methodChosen'; method: string; needsKey: boolean }
  | { type: 'keyEntered' }
  | { type: 'authResult'; result: AuthResult; now: number }
  | { type: 'authError'; message: string }
  | { type: 'status'; status: QwenStatus }
  | { type: 'cancel' }
  | { type: 'tick'; now: number };

export const TERMINAL = new Set(['signedIn', 'failed', 'cancelled', 'idle']);

export function isTerminal(s: SignInState): boolean {
  return TERMINAL.has(s.phase);
}

function methodOf(s: SignInState): string | undefined {
  return 'method' in s ? s.method : undefined;
}

export function signInReducer(s: SignInState, e: SignInEvent): SignInState {
  switch (e.type) {
    case 'start':
      return isTerminal(s) ? { phase: 'choosing' } : s;
    case 'cancel':
      return isTerminal(s) ? s : { phase: 'cancelled', method: methodOf(s) };
    case 'methodChosen':
      if (s.phase !== 'choosing') return s;
      return e.needsKey ? { phase: 'askingKey', method: e.method } : { phase: 'requesting', method: e.method };
    case 'keyEntered':
      return s.phase === 'askingKey' ? { phase: 'requesting', method: s.method } : s;
    case 'authError':
      return s.phase === 'requesting' || s.phase === 'waitingForBrowser'
        ? { phase: 'failed', method: methodOf(s), message: e.message }
        : s;
    case 'authResult': {
      if (s.phase !== 'requesting') return s;
      const r = e.result;
      if (r.status === 'signedIn') return { phase: 'signedIn', method: r.method ?? s.method };
      if (r.status === 'failed') {
        return { phase: 'failed', method: r.method ?? s.method, message: r.message || 'Sign-in failed.' };
      }
      // pending: the device flow runs on in the server; its outcome arrives as qwen/status
      return {
        phase: 'waitingForBrowser',
        method: r.method ?? s.method,
        userCode: r.userCode,
        verificationUri: r.verificationUri,
        verificationUriComplete: r.verificationUriComplete,
        expiresAt: typeof r.expiresIn === 'number' ? e.now + r.expiresIn * 1000 : undefined,
      };
    }
    case 'status': {
      // Only a flow that is waiting on the server's background polling listens to qwen/status;
      // a status that arrives while the request is still in flight describes the old state.
      if (s.phase !== 'waitingForBrowser') return s;
      const st = e.status;
      if (st.state === 'ready') return { phase: 'signedIn', method: s.method, model: st.model?.id };
      if (st.state === 'signingIn') return s;
      return {
        phase: 'failed',
        method: s.method,
        message: st.message || (st.state === 'needsAuth' ? 'Sign-in did not complete.' : 'Sign-in failed.'),
      };
    }
    case 'tick':
      if (s.phase === 'waitingForBrowser' && s.expiresAt !== undefined && e.now >= s.expiresAt) {
        return { phase: 'failed', method: s.method, message: 'The sign-in code expired before it was approved. Run "Qwen: Sign in" again.' };
      }
      return s;
  }
}

/** The notification text shown while waiting for the browser. */
export function describeWaiting(s: Extract<SignInState, { phase: 'waitingForBrowser' }>): string {
  const where = s.verificationUri ? ` at ${s.verificationUri}` : '';
  return s.userCode
    ? `Qwen sign-in: enter code ${s.userCode}${where} and approve.`
    : `Qwen sign-in: approve the request in your browser${where}.`;
}
