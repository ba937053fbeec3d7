// Pure: which value of a setting applies, given VS Code's workspace trust.
//
// `qwen.server.command` and `qwen.server.args` start a process, so a workspace (a cloned repo)
// must not set them unless it is trusted. The user's own values (User settings, and Remote
// settings in a remote window: both arrive as `globalValue`) always apply, also in Restricted
// Mode, which is what a fresh profile or a remote window opens in.

/** The part of `WorkspaceConfiguration.inspect()` this needs. */
export interface InspectLike<T> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

export interface Resolved<T> {
  value: T | undefined;
  /** where the value came from */
  from: 'default' | 'user' | 'workspace' | 'workspaceFolder';
  /** a workspace value that was refused because the workspace is not trusted */
  refusedWorkspaceValue?: T;
}

export function resolveRestricted<T>(i: InspectLike<T> | undefined, trusted: boolean): Resolved<T> {
  if (!i) return { value: undefined, from: 'default' };
  const ws = i.workspaceFolderValue !== undefined ? i.workspaceFolderValue : i.workspaceValue;
  const wsFrom = i.workspaceFolderValue !== undefined ? 'workspaceFolder' : 'workspace';
  if (trusted && ws !== undefined) return { value: ws, from: wsFrom };
  const user: Resolved<T> =
    i.globalValue !== undefined ? { value: i.globalValue, from: 'user' } : { value: i.defaultValue, from: 'default' };
  if (!trusted && ws !== undefined) user.refusedWorkspaceValue = ws;
  return user;
}

export interface ServerSettings {
  /** `qwen.server.command`, trimmed; empty = run the bundled server */
  command: string;
  args: string[];
  /** `qwen.server.shared`: the bundled server is a session of the per-user daemon, connected to
   * its socket directly (true) or through the `qwen-lsp attach` shim ("shim"); false: standalone */
  shared: boolean | 'shim';
  /** human-readable notes for the log, e.g. a refused workspace value */
  notes: string[];
}

/** `qwen.server.command`, `qwen.server.args` and `qwen.server.shared` as they apply under the
 * current trust. `shared` follows the same rule: it changes which process serves the window. */
export function serverSettings(
  inspect: (key: 'command' | 'args' | 'shared') => InspectLike<unknown> | undefined,
  trusted: boolean,
): ServerSettings {
  const notes: string[] = [];
  const cmd = resolveRestricted(inspect('command'), trusted);
  const args = resolveRestricted(inspect('args'), trusted);
  const shared = resolveRestricted(inspect('shared'), trusted);
  for (const [key, r] of [['command', cmd], ['args', args], ['shared', shared]] as const) {
    if (r.refusedWorkspaceValue !== undefined) {
      notes.push(`the workspace's qwen.server.${key} is ignored in Restricted Mode (trust the workspace to use it)`);
    }
  }
  return {
    command: typeof cmd.value === 'string' ? cmd.value.trim() : '',
    args: Array.isArray(args.value) ? args.value.filter((a): a is string => typeof a === 'string') : [],
    shared: typeof shared.value === 'boolean' || shared.value === 'shim' ? shared.value : true,
    notes,
  };
}
