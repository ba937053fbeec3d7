// Pure (fs access injected): decide which `qwen-lsp` to start.
import * as path from 'path';

export interface ServerCommandInputs {
  /** `qwen.server.command` */
  configured?: string;
  /** `qwen.server.args` */
  args?: string[];
  /** `PATH` of the extension host */
  pathEnv?: string;
  /** Python interpreters to look beside, best first (Python extension's active env, python.defaultInterpreterPath). */
  pythonInterpreters?: string[];
  homeDir?: string;
  isExecutable: (file: string) => boolean;
  platform?: NodeJS.Platform;
}

export type ServerCommand =
  | { ok: true; command: string; args: string[]; source: 'setting' | 'PATH' | 'python' }
  | { ok: false; message: string };

const EXE = 'qwen-lsp';

function expandHome(p: string, home?: string): string {
  if (home && (p === '~' || p.startsWith('~/'))) return path.join(home, p.slice(1));
  return p;
}

export function resolveServerCommand(i: ServerCommandInputs): ServerCommand {
  const args = (i.args ?? []).filter((a) => typeof a === 'string');
  const win = (i.platform ?? process.platform) === 'win32';
  const names = win ? [`${EXE}.exe`, `${EXE}.cmd`, EXE] : [EXE];
  const configured = (i.configured ?? '').trim();
  if (configured) {
    return { ok: true, command: expandHome(configured, i.homeDir), args, source: 'setting' };
  }
  const sep = win ? ';' : ':';
  for (const dir of (i.pathEnv ?? '').split(sep)) {
    if (!dir) continue;
    for (const n of names) {
      const f = path.join(dir, n);
      if (i.isExecutable(f)) return { ok: true, command: f, args, source: 'PATH' };
    }
  }
  for (const py of i.pythonInterpreters ?? []) {
    if (!py) continue;
    const dir = path.dirname(expandHome(py, i.homeDir));
    for (const n of names) {
      const f = path.join(dir, n);
      if (i.isExecutable(f)) return { ok: true, command: f, args, source: 'python' };
    }
  }
  return {
    ok: false,
    message:
      'Qwen: could not find the qwen-lsp server. Install it (pip install qwen-lsp) into a Python environment on PATH ' +
      'or the one selected in the Python extension, or set "qwen.server.command" to its path.',
  };
}
