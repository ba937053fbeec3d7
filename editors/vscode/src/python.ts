// Pure (process spawning injected): find a Python that can run the server this build carries.
import * as path from 'path';

export interface PythonCandidate {
  path: string;
  /** where it was found, for messages */
  source: string;
}

export interface PythonProbe {
  /** [major, minor, micro] of the interpreter, if it ran */
  version?: [number, number, number];
  implementation?: string;
  error?: string;
}

/** Run with `python -c`: prints e.g. "cpython 3.11 7". */
export const PROBE_SCRIPT = 'import sys; print(sys.implementation.name, *sys.version_info[:3])';

export function parseProbe(stdout: string): PythonProbe {
  const m = /^(\w+) (\d+) (\d+) (\d+)\s*$/m.exec(stdout);
  if (!m) return { error: `unexpected answer ${JSON.stringify(stdout.trim().slice(0, 80))}` };
  return { implementation: m[1], version: [Number(m[2]), Number(m[3]), Number(m[4])] };
}

export interface CandidateInputs {
  /** the Python extension's active interpreter for the workspace, if any */
  fromPythonExtension?: string;
  /** `python.defaultInterpreterPath` */
  defaultInterpreterPath?: string;
  pathEnv?: string;
  platform?: NodeJS.Platform;
  homeDir?: string;
  isExecutable: (file: string) => boolean;
}

function expandHome(p: string, home?: string): string {
  if (home && (p === '~' || p.startsWith('~/'))) return path.join(home, p.slice(1));
  return p;
}

/** Interpreters to try, best first, without duplicates. */
export function pythonCandidates(i: CandidateInputs): PythonCandidate[] {
  const out: PythonCandidate[] = [];
  const seen = new Set<string>();
  const add = (p: string | undefined, source: string) => {
    if (!p) return;
    const f = expandHome(p.trim(), i.homeDir);
    if (!f || seen.has(f)) return;
    seen.add(f);
    out.push({ path: f, source });
  };
  add(i.fromPythonExtension, 'the Python extension');
  // "python" is the setting's default and means "look on PATH", which comes next anyway
  if (i.defaultInterpreterPath && i.defaultInterpreterPath.trim() !== 'python') {
    add(i.defaultInterpreterPath, 'python.defaultInterpreterPath');
  }
  const win = (i.platform ?? process.platform) === 'win32';
  const names = win ? ['python.exe', 'python3.exe'] : ['python3', 'python'];
  for (const name of names) {
    for (const dir of (i.pathEnv ?? '').split(win ? ';' : ':')) {
      if (!dir) continue;
      const f = path.join(dir, name);
      if (i.isExecutable(f)) {
        add(f, 'PATH');
        break; // the first on PATH is the one a terminal would run
      }
    }
  }
  return out;
}

export type PythonChoice =
  | { ok: true; python: string; version: [number, number, number]; source: string; skipped: string[] }
  | { ok: false; message: string; skipped: string[] };

const fmt = (v: [number, number, number]) => v.join('.');

/** Human list: "3.11, 3.12 or 3.13". */
export function listVersions(vs: readonly string[]): string {
  return vs.length <= 1 ? (vs[0] ?? '') : `${vs.slice(0, -1).join(', ')} or ${vs[vs.length - 1]}`;
}

/**
 * The first candidate that is CPython in one of `supported` ("3.11", ...: the versions the bundled
 * wheels were built for). Every candidate that did not fit is listed with the reason.
 */
export async function choosePython(
  candidates: PythonCandidate[],
  probe: (python: string) => Promise<PythonProbe>,
  supported: readonly string[],
): Promise<PythonChoice> {
  const skipped: string[] = [];
  for (const c of candidates) {
    const p = await probe(c.path);
    if (!p.version) {
      skipped.push(`${c.path} (from ${c.source}) did not run: ${p.error ?? 'no answer'}`);
      continue;
    }
    const mm = `${p.version[0]}.${p.version[1]}`;
    if (p.implementation !== 'cpython') {
      skipped.push(`${c.path} (from ${c.source}) is ${p.implementation} ${fmt(p.version)}, not CPython`);
    } else if (!supported.includes(mm)) {
      skipped.push(`${c.path} (from ${c.source}) is Python ${fmt(p.version)}`);
    } else {
      return { ok: true, python: c.path, version: p.version, source: c.source, skipped };
    }
  }
  const found = skipped.length ? ` Found: ${skipped.join('; ')}.` : ' None was found on PATH or in the Python extension.';
  return {
    ok: false,
    skipped,
    message:
      `Qwen needs Python ${listVersions(supported)} to run its bundled qwen-lsp server.${found} ` +
      `Install one of them (python.org or your package manager), put it on PATH or select it in the Python extension, ` +
      `then run "Qwen: Restart Server"; or set "qwen.server.command" in your User settings to a qwen-lsp executable.`,
  };
}
