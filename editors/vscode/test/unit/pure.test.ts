// The pure modules: no server, no vscode.
import { describe, expect, test } from 'vitest';
import { renderConfigMarkdown } from '../../src/configView';
import { describeError, NotificationThrottle, RestartBudget } from '../../src/errors';
import { buildModelPicker, modelRows } from '../../src/models';
import { announcedAuthTypes, AuthTypeInfo, ERROR_KINDS, ModelList, Provider, protocolLabel, QwenStatus } from '../../src/protocol';
import { buildProviderRows, checkBaseUrl, checkKeyPrefix, findProviderRow, methodRows } from '../../src/providers';
import { KeyStore } from '../../src/keyStore';
import { MemoryMemento, MemorySecrets } from './helpers';
import { describeWaiting, signInReducer, SignInState } from '../../src/signin';
import { describeLastError, describeProblem, renderStarting, renderStatus, renderStopped } from '../../src/status';

// What a server announces in capabilities.experimental.qwen.authTypes; the editor has no list of its own.
const AUTH_TYPES: AuthTypeInfo[] = [
  { id: 'qwen-oauth', label: 'Qwen OAuth' },
  { id: 'openai', label: 'OpenAI-compatible' },
  { id: 'anthropic', label: 'Anthropic' },
  { id: 'gemini', label: 'Gemini' },
];

describe('auth types come from the server', () => {
  test('authTypes are taken in the server\'s order; an older server\'s authMethods stand for their labels', () => {
    expect(announcedAuthTypes({ authTypes: AUTH_TYPES, authMethods: ['x'] })).toEqual(AUTH_TYPES);
    expect(announcedAuthTypes({ authMethods: ['openai', 'gemini'] })).toEqual([{ id: 'openai', label: 'openai' }, { id: 'gemini', label: 'gemini' }]);
    expect(announcedAuthTypes({})).toEqual([]);
    expect(announcedAuthTypes(undefined)).toEqual([]);
  });

  test('malformed entries are dropped, an empty label falls back to the id', () => {
    const caps = { authTypes: [{ id: 'openai', label: '' }, { label: 'no id' }, null, 'gemini', { id: 'anthropic', label: 'Anthropic' }] } as any;
    expect(announcedAuthTypes(caps)).toEqual([{ id: 'openai', label: 'openai' }, { id: 'anthropic', label: 'Anthropic' }]);
  });

  test('labels are the server\'s; an id it did not announce (or any before it answered) is shown as it is', () => {
    expect(protocolLabel('openai', AUTH_TYPES)).toBe('OpenAI-compatible');
    expect(protocolLabel('openai', [{ id: 'openai', label: 'Renamed by the server' }])).toBe('Renamed by the server');
    expect(protocolLabel('vertex-ai', AUTH_TYPES)).toBe('vertex-ai');
    expect(protocolLabel('openai')).toBe('openai');
    expect(protocolLabel(null, AUTH_TYPES)).toBe('no provider');
  });
});

describe('status rendering', () => {
  const model = { id: 'qwen3-coder-plus', name: 'Qwen3 Coder Plus', protocol: 'openai' };
  test.each([
    ['ready', '$(sparkle) Qwen3 Coder Plus', 'signed in', 'normal'],
    ['signingIn', '$(sync~spin) Qwen3 Coder Plus: signing in', 'signing in', 'normal'],
    ['needsAuth', '$(key) Qwen3 Coder Plus: needs sign-in', 'needs sign-in', 'warning'],
    ['error', '$(error) Qwen3 Coder Plus: error', 'error', 'error'],
  ] as const)('%s', (state, text, label, severity) => {
    const v = renderStatus({ state, authType: 'openai', model, message: state === 'error' ? 'settings.json is broken' : undefined }, undefined, AUTH_TYPES);
    expect(v.text).toBe(text);
    expect(v.stateLabel).toBe(label);
    expect(v.severity).toBe(severity);
    expect(v.command).toBe('qwen.selectModel');
    expect(v.tooltip).toContain('Provider: OpenAI-compatible');
    expect(v.tooltip).toContain('Qwen3 Coder Plus (qwen3-coder-plus)');
    expect(v.tooltip).toContain(`State: ${label}`);
    if (state === 'error') expect(v.tooltip).toContain('settings.json is broken');
  });

  test('no model: generic name, provider from authType', () => {
    const v = renderStatus({ state: 'needsAuth', authType: 'qwen-oauth', model: null }, undefined, AUTH_TYPES);
    expect(v.text).toBe('$(key) Qwen: needs sign-in');
    expect(v.tooltip).toContain('no model selected');
    expect(v.tooltip).toContain('Provider: Qwen OAuth');
  });

  test('before the server announced its auth types the provider is the raw id', () => {
    expect(renderStatus({ state: 'ready', authType: 'openai', model }).tooltip).toContain('Provider: openai\n');
  });

  test('nothing configured at all', () => {
    const v = renderStatus({ state: 'needsAuth', authType: null, model: null });
    expect(v.tooltip).toContain('Provider: no provider');
  });

  test('model without a name shows its id; unknown state is still rendered', () => {
    expect(renderStatus({ state: 'ready', model: { id: 'm1', protocol: 'gemini' } }).text).toBe('$(sparkle) m1');
    const odd = renderStatus({ state: 'weird' as QwenStatus['state'], model: null });
    expect(odd.text).toContain('weird');
    expect(odd.severity).toBe('warning');
  });

  test('starting and stopped', () => {
    expect(renderStarting().stateLabel).toBe('starting');
    expect(renderStopped('crashed').tooltip).toContain('crashed');
    expect(renderStopped().command).toBe('qwen.showLog');
  });
});

describe('status: configuration problems and the last completion error', () => {
  const model = { id: 'fake-model', name: 'Fake', protocol: 'openai' };
  const broken = {
    count: 2,
    first: { severity: 'error' as const, file: '/home/u/.qwen/settings.json', line: 4, message: 'user settings is not valid JSON' },
  };

  test('a broken settings file is in the text, the tooltip and the click', () => {
    const v = renderStatus({ state: 'needsAuth', model: null, problems: broken }, '/home/u');
    expect(v.text).toBe('$(warning) Qwen: 2 config problems');
    expect(v.severity).toBe('error');
    expect(v.command).toBe('qwen.showProblem');
    expect(v.tooltip).toContain('2 configuration problems, the first: ~/.qwen/settings.json line 4: user settings is not valid JSON');
    expect(v.actions[0]).toEqual({ title: 'Open settings.json at line 4', command: 'qwen.showProblem' });
    expect(v.actions.map((a) => a.command)).toContain('qwen.signIn');
  });

  test('a warning without a file keeps a ready model usable, in yellow', () => {
    const v = renderStatus({ state: 'ready', model, problems: { count: 1, first: { severity: 'warning', message: 'skipped entry' } } });
    expect(v.text).toBe('$(warning) Fake: 1 config problem');
    expect(v.severity).toBe('warning');
    expect(v.actions[0].title).toBe('Show the problem');
    expect(describeProblem({ severity: 'warning', message: 'm', file: '/etc/q.json' }, '/home/u')).toBe('/etc/q.json: m');
  });

  test('the last failed completion wins the text and the click; problems stay in the tooltip', () => {
    const lastError = { kind: 'auth', message: '401: the key in FAKE_KEY was rejected', model: 'fake-model' };
    const v = renderStatus({ state: 'ready', model, lastError, problems: broken });
    expect(v.text).toBe('$(error) Fake: sign-in rejected');
    expect(v.severity).toBe('error');
    expect(v.command).toBe('qwen.showLastError');
    expect(v.tooltip).toContain('Last completion with fake-model failed (sign-in rejected): 401: the key in FAKE_KEY was rejected');
    expect(v.tooltip).toContain('configuration problems');
    expect(v.actions.slice(0, 2).map((a) => a.command)).toEqual(['qwen.showLastError', 'qwen.showProblem']);
    expect(describeLastError({ kind: 'weird', message: 'x' })).toBe('Last completion failed (weird): x');
  });
});

describe('model picker grouping', () => {
  const list: ModelList = {
    authType: 'openai',
    current: 'gpt-x',
    models: [
      { id: 'claude-y', name: 'Claude Y', protocol: 'anthropic', hasCredentials: false, current: false },
      { id: 'gpt-x', name: 'GPT X', protocol: 'openai', baseUrl: 'http://127.0.0.1:1/v1', hasCredentials: true, current: true },
      { id: 'coder-model', name: 'Qwen Coder', protocol: 'qwen-oauth', hasCredentials: true, current: false },
      { id: 'gpt-z', protocol: 'openai', hasCredentials: true, current: false },
      { id: 'exotic', protocol: 'something-new', hasCredentials: true, current: false },
      { id: 'gem', protocol: 'gemini', hasCredentials: false, current: false },
    ],
  };
  const rows = buildModelPicker(list, AUTH_TYPES);

  test('separators in the server\'s order, unannounced protocols last, server order kept inside a group', () => {
    const seps = rows.filter((r) => r.kind === 'separator').map((r) => r.label);
    expect(seps).toEqual(['Qwen OAuth', 'OpenAI-compatible', 'Anthropic', 'Gemini', 'something-new', '']);
    expect(modelRows(rows).map((r) => r.model.id)).toEqual(['coder-model', 'gpt-x', 'gpt-z', 'claude-y', 'gem', 'exotic']);
  });

  test('the order and labels are whatever the server announced', () => {
    const reversed = [...AUTH_TYPES].reverse().map((a) => ({ ...a, label: `${a.label}!` }));
    const seps = buildModelPicker(list, reversed).filter((r) => r.kind === 'separator').map((r) => r.label);
    expect(seps).toEqual(['Gemini!', 'Anthropic!', 'OpenAI-compatible!', 'Qwen OAuth!', 'something-new', '']);
  });

  test('before the server answered: raw ids, in the order the models came', () => {
    const seps = buildModelPicker(list).filter((r) => r.kind === 'separator').map((r) => r.label);
    expect(seps).toEqual(['anthropic', 'openai', 'qwen-oauth', 'something-new', 'gemini', '']);
  });

  test('current model is marked, models without credentials are flagged', () => {
    const byId = Object.fromEntries(modelRows(rows).map((r) => [r.model.id, r]));
    expect(byId['gpt-x'].picked).toBe(true);
    expect(byId['gpt-x'].label).toBe('$(check) GPT X');
    expect(byId['gpt-x'].description).toContain('current');
    expect(byId['gpt-x'].detail).toBe('http://127.0.0.1:1/v1');
    expect(byId['claude-y'].label).toBe('$(lock) Claude Y');
    expect(byId['claude-y'].description).toContain('no credentials');
    expect(byId['gpt-z'].label).toBe('$(blank) gpt-z');
    expect(byId['gpt-z'].description).not.toContain('no credentials');
    expect(Object.values(byId).filter((r) => r.picked)).toHaveLength(1);
  });

  test('trailing refresh and sign-in actions; an empty list still offers them', () => {
    expect(rows.slice(-2)).toMatchObject([{ kind: 'action', action: 'refresh' }, { kind: 'action', action: 'signIn' }]);
    const empty = buildModelPicker({ authType: null, current: null, models: [] });
    expect(empty.filter((r) => r.kind === 'model')).toHaveLength(0);
    expect(empty[empty.length - 1]).toMatchObject({ kind: 'action' });
  });
});

describe('sign-in state machine', () => {
  const idle: SignInState = { phase: 'idle' };
  const run = (s: SignInState, ...events: Parameters<typeof signInReducer>[1][]) => events.reduce(signInReducer, s);

  test('Qwen OAuth: pending, then ready through qwen/status', () => {
    let s = run(idle, { type: 'start' }, { type: 'methodChosen', method: 'qwen-oauth', needsKey: false });
    expect(s.phase).toBe('requesting');
    // a status sent before the answer is ignored
    s = signInReducer(s, { type: 'status', status: { state: 'needsAuth', model: null } });
    expect(s.phase).toBe('requesting');
    s = signInReducer(s, {
      type: 'authResult',
      now: 1000,
      result: { status: 'pending', method: 'qwen-oauth', userCode: 'ABCD-EFGH', verificationUri: 'http://127.0.0.2:1/authorize', expiresIn: 300 },
    });
    expect(s).toMatchObject({ phase: 'waitingForBrowser', userCode: 'ABCD-EFGH', expiresAt: 301_000 });
    expect(describeWaiting(s as any)).toContain('ABCD-EFGH');
    s = signInReducer(s, { type: 'status', status: { state: 'signingIn', model: null } });
    expect(s.phase).toBe('waitingForBrowser');
    s = signInReducer(s, { type: 'tick', now: 2000 });
    expect(s.phase).toBe('waitingForBrowser');
    s = signInReducer(s, { type: 'status', status: { state: 'ready', model: { id: 'coder-model', protocol: 'qwen-oauth' } } });
    expect(s).toEqual({ phase: 'signedIn', method: 'qwen-oauth', model: 'coder-model' });
    // terminal states stay put
    expect(signInReducer(s, { type: 'cancel' })).toBe(s);
    expect(signInReducer(s, { type: 'status', status: { state: 'error', model: null } })).toBe(s);
  });

  test('Qwen OAuth: denied or failed reported through qwen/status', () => {
    const waiting = run(idle, { type: 'start' }, { type: 'methodChosen', method: 'qwen-oauth', needsKey: false }, {
      type: 'authResult', now: 0, result: { status: 'pending', userCode: 'X' },
    });
    expect(signInReducer(waiting, { type: 'status', status: { state: 'needsAuth', model: null, message: 'access denied' } }))
      .toEqual({ phase: 'failed', method: 'qwen-oauth', message: 'access denied' });
    expect(signInReducer(waiting, { type: 'status', status: { state: 'error', model: null } })).toMatchObject({ phase: 'failed' });
  });

  test('Qwen OAuth: code expires', () => {
    const waiting = run(idle, { type: 'start' }, { type: 'methodChosen', method: 'qwen-oauth', needsKey: false }, {
      type: 'authResult', now: 0, result: { status: 'pending', userCode: 'X', expiresIn: 2 },
    });
    expect(signInReducer(waiting, { type: 'tick', now: 1999 }).phase).toBe('waitingForBrowser');
    expect(signInReducer(waiting, { type: 'tick', now: 2000 })).toMatchObject({ phase: 'failed', message: expect.stringContaining('expired') });
  });

  test('Qwen OAuth with a cached token signs in at once', () => {
    const s = run(idle, { type: 'start' }, { type: 'methodChosen', method: 'qwen-oauth', needsKey: false }, {
      type: 'authResult', now: 0, result: { status: 'signedIn', method: 'qwen-oauth' },
    });
    expect(s.phase).toBe('signedIn');
  });

  test('API key: ask, send, answer', () => {
    let s = run(idle, { type: 'start' }, { type: 'methodChosen', method: 'anthropic', needsKey: true });
    expect(s).toEqual({ phase: 'askingKey', method: 'anthropic' });
    s = signInReducer(s, { type: 'keyEntered' });
    expect(s.phase).toBe('requesting');
    expect(signInReducer(s, { type: 'authResult', now: 0, result: { status: 'signedIn', method: 'anthropic' } }).phase).toBe('signedIn');
    expect(signInReducer(s, { type: 'authResult', now: 0, result: { status: 'failed', message: 'bad key' } }))
      .toEqual({ phase: 'failed', method: 'anthropic', message: 'bad key' });
    expect(signInReducer(s, { type: 'authError', message: 'boom' })).toMatchObject({ phase: 'failed', message: 'boom' });
  });

  test('cancel from every non-terminal phase', () => {
    for (const s of [
      { phase: 'choosing' },
      { phase: 'askingKey', method: 'openai' },
      { phase: 'requesting', method: 'openai' },
      { phase: 'waitingForBrowser', method: 'qwen-oauth' },
    ] as SignInState[]) {
      expect(signInReducer(s, { type: 'cancel' }).phase).toBe('cancelled');
    }
    // events that do not belong to the phase are ignored
    expect(signInReducer({ phase: 'choosing' }, { type: 'keyEntered' })).toEqual({ phase: 'choosing' });
    expect(signInReducer({ phase: 'choosing' }, { type: 'start' })).toEqual({ phase: 'choosing' });
    expect(signInReducer({ phase: 'failed', message: 'x' }, { type: 'start' })).toEqual({ phase: 'choosing' });
  });
});

describe('errors', () => {
  const err = (kind: string, extra: object = {}) => ({ code: -32603, message: 'it broke', data: { kind, ...extra } });

  test('every kind has a view; actionable kinds offer the right buttons', () => {
    for (const k of ERROR_KINDS) expect(describeError(err(k)).kind).toBe(k);
    expect(describeError(err('auth')).actions.map((a) => a.title)).toContain('Sign in again');
    expect(describeError(err('config')).actions.map((a) => a.title)).toContain('Open settings.json');
    expect(describeError(err('quota', { retryAfter: 2.2 })).message).toContain('Retry after 3 s');
    expect(describeError(err('upstream', { provider: 'openai' }), 'Qwen').message).toBe('Qwen (openai): it broke');
    expect(describeError(err('cancelled')).severity).toBe('none');
    expect(describeError({ code: -32800, message: 'cancelled' }).severity).toBe('none');
    expect(describeError(new Error('plain')).kind).toBe('unknown');
    expect(describeError(err('nonsense')).kind).toBe('unknown');
  });

  test('throttle and restart budget', () => {
    const t = new NotificationThrottle(1000);
    expect(t.shouldShow('auth', 0)).toBe(true);
    expect(t.shouldShow('auth', 500)).toBe(false);
    expect(t.shouldShow('quota', 500)).toBe(true);
    expect(t.shouldShow('auth', 1000)).toBe(true);
    const b = new RestartBudget(2, 1000);
    expect([b.tryRestart(0), b.tryRestart(1), b.tryRestart(2)]).toEqual([true, true, false]);
    expect(b.tryRestart(1001)).toBe(true);
  });
});

describe('configuration rendering', () => {
  test('values with sources, nested sections, lists, raw JSON', () => {
    const md = renderConfigMarkdown({
      qwenHome: '/h/.qwen',
      authType: { value: 'openai', source: 'settings: /h/.qwen/settings.json' },
      env: { OPENAI_API_KEY: { value: 'sk-…abcd', source: 'env' } },
      models: [{ id: 'm1', protocol: 'openai' }],
      diagnostics: [],
    });
    expect(md).toContain('| authType | `openai` | settings: /h/.qwen/settings.json |');
    expect(md).toContain('| OPENAI_API_KEY | `sk-…abcd` | env |');
    expect(md).toContain('**m1**');
    expect(md).toContain('diagnostics (0)');
    expect(md).toContain('"qwenHome": "/h/.qwen"');
  });

  test('top-level values with sources share one table', () => {
    const md = renderConfigMarkdown({ authType: { value: 'openai', source: 'flag' }, qwenHome: { value: '/h', source: 'default' } });
    expect(md.split('| Key | Value | Source |')).toHaveLength(2);
    expect(md).toContain('| authType | `openai` | flag |\n| qwenHome | `/h` | default |');
  });
});

// A `qwen/providers` answer as the server gives it (shape of docs/protocol.md); made-up entries so
// the test says nothing about the real catalogue, which only the server knows.
const PROVIDERS: Provider[] = [
  { id: 'qwen-oauth', label: 'Qwen OAuth', authType: 'qwen-oauth', regions: [], envKey: '', docsUrl: 'https://docs.example/qwen', listsModels: false, needsBaseUrl: false },
  {
    id: 'plan-x', label: 'Plan X', authType: 'openai', keyHint: 'px-...', keyPrefix: 'px-', docsUrl: 'https://x.example/keys', listsModels: true, needsBaseUrl: false,
    regions: [{ id: 'east', label: 'East', baseUrl: 'https://east.x.example/v1' }, { id: 'west', label: 'West', baseUrl: 'https://west.x.example/v1' }],
  },
  { id: 'gw', label: 'Gateway', authType: 'openai', regions: [], keyHint: 'your gateway key', needsBaseUrl: true },
  { id: 'resp', label: 'Responses Co', authType: 'openai-responses', regions: [{ id: 'default', label: 'Global', baseUrl: 'https://r.example/v1' }] },
];

describe('sign-in picker rows from qwen/providers', () => {
  test('one row per provider whose method the server offers, in catalogue order', () => {
    const rows = buildProviderRows(PROVIDERS, ['qwen-oauth', 'openai']);
    expect(rows.map((r) => r.label)).toEqual(['Qwen OAuth', 'Plan X', 'Gateway']);
    expect(buildProviderRows(PROVIDERS, []).map((r) => r.provider!.id)).toEqual(['qwen-oauth', 'plan-x', 'gw', 'resp']);
  });

  test('description: key hint, base URL, region count; detail and button target: the docs URL', () => {
    const [oauth, plan, gw] = buildProviderRows(PROVIDERS, ['qwen-oauth', 'openai']);
    expect(oauth).toMatchObject({ method: 'qwen-oauth', description: 'browser sign-in', docsUrl: 'https://docs.example/qwen' });
    expect(plan).toMatchObject({ method: 'openai', description: 'key px-... · 2 regions', detail: 'https://x.example/keys', docsUrl: 'https://x.example/keys' });
    expect(gw.description).toBe('key your gateway key · your base URL');
    expect(gw.docsUrl).toBeUndefined();
  });

  test('a command argument names a provider id first, else a bare method', () => {
    const rows = [...buildProviderRows(PROVIDERS), ...methodRows([{ id: 'anthropic', label: 'Anthropic' }])];
    expect(findProviderRow(rows, 'plan-x')?.label).toBe('Plan X');
    expect(findProviderRow(rows, 'anthropic')).toMatchObject({ method: 'anthropic', label: 'Anthropic' });
    expect(findProviderRow(rows, 'nope')).toBeUndefined();
  });

  test('key prefix and base URL checks are hints with the next step', () => {
    expect(checkKeyPrefix('  ', PROVIDERS[1])).toMatch(/empty/);
    expect(checkKeyPrefix('sk-123', PROVIDERS[1])).toBe('Plan X keys start with "px-" — get one at https://x.example/keys');
    expect(checkKeyPrefix(' px-123 ', PROVIDERS[1])).toBeUndefined();
    expect(checkKeyPrefix('anything', PROVIDERS[2])).toBeUndefined();
    expect(checkBaseUrl('')).toMatch(/needs the base URL/);
    expect(checkBaseUrl('ftp://h/v1')).toMatch(/http\(s\) URL/);
    expect(checkBaseUrl('not a url')).toMatch(/http\(s\) URL/);
    expect(checkBaseUrl('http://127.0.0.1:8000/v1')).toBeUndefined();
  });
});

describe('model picker grouped by provider label', () => {
  const list: ModelList = {
    authType: 'openai',
    current: 'px-2',
    models: [
      { id: 'coder-model', protocol: 'qwen-oauth', hasCredentials: false, current: false, source: 'configured', provider: 'Qwen OAuth' },
      { id: 'mine', protocol: 'openai', hasCredentials: true, current: false, source: 'configured', provider: 'OpenAI-compatible' },
      { id: 'px-1', name: '[X] px-1', protocol: 'openai', hasCredentials: true, current: false, source: 'preset', provider: 'Plan X' },
      { id: 'px-2', protocol: 'openai', hasCredentials: true, current: true, source: 'preset', provider: 'Plan X' },
      { id: 'px-new', protocol: 'openai', hasCredentials: true, current: false, source: 'discovered', provider: 'Plan X' },
      { id: 'claude', protocol: 'anthropic', hasCredentials: true, current: false, source: 'discovered', provider: 'Anthropic' },
    ],
  };
  const rows = buildModelPicker(list);

  test('one separator per provider label, protocol order kept, models stay under their provider', () => {
    expect(rows.filter((r) => r.kind === 'separator').map((r) => r.label)).toEqual(['Qwen OAuth', 'OpenAI-compatible', 'Plan X', 'Anthropic', '']);
    const i = rows.findIndex((r) => r.label === 'Plan X');
    expect(rows.slice(i + 1, i + 4).map((r) => (r.kind === 'model' ? r.model.id : r.kind))).toEqual(['px-1', 'px-2', 'px-new']);
  });

  test('the source is shown for preset and discovered models, not for configured ones', () => {
    const byId = Object.fromEntries(modelRows(rows).map((r) => [r.model.id, r]));
    expect(byId['px-1'].description).toBe('px-1 · preset');
    expect(byId['px-2'].description).toBe('current · preset');
    expect(byId['px-new'].description).toBe('discovered');
    expect(byId['mine'].description).toBe('');
    expect(byId['coder-model'].description).toBe('no credentials — sign in first');
  });
});

describe('key store', () => {
  test('a provider key and a method key of the same name live apart; clear forgets both', async () => {
    const secrets = new MemorySecrets();
    const state = new MemoryMemento();
    const keys = new KeyStore(secrets, state);
    await keys.save({ method: 'openai', apiKey: 'sk-method', baseUrl: 'http://127.0.0.1:1/v1' });
    await keys.save({ method: 'openai', provider: 'openai', region: 'default', apiKey: 'sk-provider' });
    expect(await keys.get('openai')).toEqual({ method: 'openai', apiKey: 'sk-method', baseUrl: 'http://127.0.0.1:1/v1' });
    expect(await keys.forStartup()).toEqual({ method: 'openai', provider: 'openai', region: 'default', apiKey: 'sk-provider' });
    expect(JSON.stringify([...state.data.values()])).not.toContain('sk-');
    await keys.clear(['openai']);
    expect(secrets.data.size).toBe(0);
    expect(await keys.forStartup()).toBeUndefined();
  });
});
