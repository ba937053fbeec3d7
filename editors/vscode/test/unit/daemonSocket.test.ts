// `qwen-lsp attach --ensure` as the direct connection runs it: every way it can fail becomes one
// message for the user (real processes: small shell scripts standing in for a broken qwen-lsp,
// and the real qwen-lsp for the working case).
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, test } from 'vitest';
import { connectSocket, DirectFailure, ensureDaemon } from '../../src/daemonSocket';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen-ensure-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return f;
}
const fails = (p: Promise<unknown>) => p.then(() => 'resolved', (e: Error) => (e instanceof DirectFailure ? e.message : `not a DirectFailure: ${e}`));

describe('attach --ensure', () => {
  test('exit 2: the shim\'s own line, without the program name', async () => {
    const exe = script('exit2', 'echo "qwen-lsp attach: /run/user/9 does not exist; set XDG_RUNTIME_DIR to an existing directory of yours." >&2; exit 2');
    expect(await fails(ensureDaemon({ command: exe }))).toBe('/run/user/9 does not exist; set XDG_RUNTIME_DIR to an existing directory of yours.');
  });

  test('a hung --ensure is given up after the timeout', async () => {
    const exe = script('hang', 'exec sleep 30');
    const t0 = Date.now();
    expect(await fails(ensureDaemon({ command: exe }, 300))).toBe('`qwen-lsp attach --ensure` did not answer within 0.3 s.');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('another exit code, no socket printed, a command that does not exist', async () => {
    expect(await fails(ensureDaemon({ command: script('exit1', 'echo "Traceback ..." >&2; echo "OSError: boom" >&2; exit 1') }))).toBe(
      '`qwen-lsp attach --ensure` exited with code 1: OSError: boom',
    );
    expect(await fails(ensureDaemon({ command: script('old', 'echo "usage: qwen-lsp ..."') }))).toContain('printed no socket');
    expect(await fails(ensureDaemon({ command: path.join(dir, 'missing') }))).toMatch(/could not run: .*ENOENT/);
  });

  test('the real qwen-lsp: a socket that accepts the connection; a socket nobody listens on does not', async () => {
    const runtime = fs.mkdtempSync('/tmp/qe-');
    const env = { ...process.env, XDG_RUNTIME_DIR: runtime, QWEN_LSP_DAEMON_IDLE_TIMEOUT: '20' };
    try {
      const socketPath = await ensureDaemon({ command: 'qwen-lsp', args: ['attach', '--ensure'], options: { env } });
      expect(socketPath).toBe(path.join(runtime, 'qwen-lsp', path.basename(socketPath)));
      const s = await connectSocket(socketPath);
      s.destroy();
      const stale = path.join(runtime, 'nobody.sock');
      expect(await fails(connectSocket(stale))).toMatch(new RegExp(`^could not connect to the daemon's socket ${stale}: .*ENOENT`));
    } finally {
      cp.spawnSync('qwen-lsp', ['daemon', '--stop'], { env });
      fs.rmSync(runtime, { recursive: true, force: true });
    }
  });
});
