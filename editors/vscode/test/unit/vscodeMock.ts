// Completes jest-mock-vscode with what the extension and vscode-languageclient touch, and gives
// tests handles to drive dialogs (quick picks, input boxes, notifications) without a UI.
type Fn = (...a: any[]) => any;

export interface Dialogs {
  /** answers for showQuickPick: a function that picks one of the offered items */
  quickPick: ((items: any[]) => any) | undefined;
  /** answers for createQuickPick().show(): picks one of qp.items to accept */
  createQuickPick: ((items: any[]) => any) | undefined;
  /** successive answers for showInputBox */
  inputs: (string | undefined)[];
  /** decides which button of a notification to press (undefined = dismiss) */
  button: (message: string, buttons: string[]) => string | undefined;
  /** every notification shown: [severity, message, buttons] */
  shown: { severity: 'info' | 'warning' | 'error'; message: string; buttons: string[] }[];
  /** handlers of the item buttons of the quick picks created so far: call with an item to press its button */
  itemButton: ((item: any) => void)[];
  /** cancel the progress after this promise resolves */
  cancelProgress?: Promise<void>;
}

export function createVscode(base: any, vi: any): any {
  const dialogs: Dialogs = { quickPick: undefined, createQuickPick: undefined, inputs: [], button: () => undefined, shown: [], itemButton: [] };
  const channel = (name: string) => {
    const lines: string[] = [];
    const add = (level: string) => (m: string) => lines.push(`[${level}] ${m}`);
    return {
      name,
      lines,
      logLevel: 2,
      append: (m: string) => lines.push(m),
      appendLine: (m: string) => lines.push(m),
      replace() {},
      clear() {},
      show: vi.fn(),
      hide() {},
      dispose() {},
      trace: add('trace'),
      debug: add('debug'),
      info: add('info'),
      warn: add('warn'),
      error: add('error'),
      onDidChangeLogLevel: () => ({ dispose() {} }),
    };
  };
  const notify = (severity: 'info' | 'warning' | 'error') =>
    vi.fn(async (message: string, ...rest: any[]) => {
      const buttons = rest.filter((x) => typeof x === 'string');
      dialogs.shown.push({ severity, message, buttons });
      return dialogs.button(message, buttons);
    });
  base.commands.registerCommand = vi.fn(() => ({ dispose() {} }));
  base.commands.executeCommand = vi.fn(async () => undefined);
  base.window.createOutputChannel = vi.fn((name: string) => channel(name));
  base.window.showInformationMessage = notify('info');
  base.window.showWarningMessage = notify('warning');
  base.window.showErrorMessage = notify('error');
  base.window.showQuickPick = vi.fn(async (items: any) => dialogs.quickPick?.(await items));
  base.window.showInputBox = vi.fn(async (opts: any) => {
    const v = dialogs.inputs.shift();
    if (v !== undefined && opts?.validateInput && (await opts.validateInput(v))) return undefined;
    return v;
  });
  base.window.createQuickPick = vi.fn(() => {
    const accept: Fn[] = [];
    const hide: Fn[] = [];
    const qp: any = {
      items: [],
      activeItems: [],
      selectedItems: [],
      onDidAccept: (f: Fn) => (accept.push(f), { dispose() {} }),
      onDidHide: (f: Fn) => (hide.push(f), { dispose() {} }),
      onDidTriggerItemButton: (f: Fn) => (dialogs.itemButton.push((item: any) => f({ item, button: item.buttons?.[0] })), { dispose() {} }),
      onDidChangeSelection: () => ({ dispose() {} }),
      onDidChangeActive: () => ({ dispose() {} }),
      onDidChangeValue: () => ({ dispose() {} }),
      show: () =>
        setTimeout(() => {
          const pick = dialogs.createQuickPick?.(qp.items);
          if (pick) {
            qp.selectedItems = [pick];
            accept.forEach((f) => f());
          } else {
            hide.forEach((f) => f());
          }
        }, 0),
      hide: () => hide.forEach((f) => f()),
      dispose() {},
    };
    return qp;
  });
  base.window.withProgress = vi.fn(async (_opts: any, task: Fn) => {
    const listeners: Fn[] = [];
    const token = {
      isCancellationRequested: false,
      onCancellationRequested: (f: Fn) => (listeners.push(f), { dispose() {} }),
    };
    dialogs.cancelProgress?.then(() => {
      token.isCancellationRequested = true;
      listeners.forEach((f) => f());
    });
    return task({ report: vi.fn() }, token);
  });
  base.window.showTextDocument = vi.fn(async () => undefined);
  base.window.activeTextEditor = undefined;
  base.window.visibleTextEditors = [];
  base.window.onDidChangeActiveTextEditor = () => ({ dispose() {} });
  base.window.onDidChangeVisibleTextEditors = () => ({ dispose() {} });
  base.window.tabGroups = base.window.tabGroups ?? { all: [], onDidChangeTabs: () => ({ dispose() {} }) };

  // User settings, and workspace settings that VS Code itself would only apply when trusted
  const settings: Record<string, unknown> = {};
  const workspaceSettings: Record<string, unknown> = {};
  base.workspace.getConfiguration = vi.fn((section?: string) => {
    const full = (k: string) => (section ? `${section}.${k}` : k);
    return {
      get: (k: string, d?: unknown) => (full(k) in workspaceSettings ? workspaceSettings[full(k)] : full(k) in settings ? settings[full(k)] : d),
      has: (k: string) => full(k) in settings || full(k) in workspaceSettings,
      inspect: (k: string) => ({ key: full(k), globalValue: settings[full(k)], workspaceValue: workspaceSettings[full(k)] }),
      update: async (k: string, v: unknown) => {
        settings[full(k)] = v;
      },
    };
  });
  const setProp = (o: any, k: string, v: unknown) => Object.defineProperty(o, k, { value: v, writable: true, configurable: true });
  setProp(base.workspace, 'isTrusted', true);
  setProp(base.workspace, 'workspaceFolders', undefined);
  setProp(base.workspace, 'textDocuments', []);
  base.workspace.onDidGrantWorkspaceTrust = () => ({ dispose() {} });
  base.workspace.onDidChangeConfiguration = () => ({ dispose() {} });
  base.workspace.registerTextDocumentContentProvider = vi.fn(() => ({ dispose() {} }));
  base.workspace.openTextDocument = vi.fn(async (uri: any) => ({ uri }));
  base.languages.registerInlineCompletionItemProvider = vi.fn(() => ({ dispose() {} }));
  base.languages.setTextDocumentLanguage = vi.fn(async (d: any) => d);
  base.extensions = { getExtension: () => undefined, all: [], onDidChange: () => ({ dispose() {} }) };
  base.env = {
    appName: 'mock-vscode',
    appRoot: '/tmp',
    language: 'en',
    machineId: 'm',
    sessionId: 's',
    uriScheme: 'vscode',
    openExternal: vi.fn(async () => true),
    clipboard: { readText: vi.fn(async () => ''), writeText: vi.fn(async () => undefined) },
  };
  base.ThemeColor = class {
    constructor(public id: string) {}
  };
  base.QuickPickItemKind = { Separator: -1, Default: 0 };
  base.ProgressLocation = { SourceControl: 1, Window: 10, Notification: 15 };
  base.InlineCompletionTriggerKind = { Invoke: 0, Automatic: 1 };
  base.SnippetString = class {
    constructor(public value: string) {}
  };
  base.MarkdownString = class {
    value = '';
    isTrusted: unknown;
    constructor(v?: string, public supportThemeIcons?: boolean) {
      this.value = v ?? '';
    }
    appendText(t: string) {
      this.value += t;
      return this;
    }
    appendMarkdown(t: string) {
      this.value += t;
      return this;
    }
  };
  base.InlineCompletionItem = class {
    constructor(public insertText: string, public range?: unknown) {}
  };

  const missing = new Set<string>();
  const proxy = new Proxy(base, {
    get(t, k) {
      if (k in t || typeof k !== 'string' || !/^[A-Z]/.test(k)) return t[k];
      missing.add(k);
      return (t[k] = class {
        args: unknown[];
        constructor(...a: unknown[]) {
          this.args = a;
        }
      });
    },
  });
  base.__dialogs = dialogs;
  base.__settings = settings;
  base.__workspaceSettings = workspaceSettings;
  base.__missing = missing;
  return proxy;
}

export function dialogsOf(vscode: any): Dialogs {
  return vscode.__dialogs;
}

export function settingsOf(vscode: any): Record<string, unknown> {
  return vscode.__settings;
}

export function workspaceSettingsOf(vscode: any): Record<string, unknown> {
  return vscode.__workspaceSettings;
}
