// Entry point: wiring only. The extension's state and commands are in controller.ts; starting
// the server in serverLifecycle.ts and serverLauncher.ts; sign-in in signInFlow.ts; decisions in
// the pure modules (settings, python, bundledServer, serverCommand, status, models, signin, errors).
import * as vscode from 'vscode';
import { QwenExtension } from './controller';

export { QwenExtension } from './controller';

let ext: QwenExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<QwenExtension> {
  ext = new QwenExtension(context);
  context.subscriptions.push({ dispose: () => void ext?.dispose() });
  await ext.activate();
  return ext;
}

export async function deactivate(): Promise<void> {
  const e = ext;
  ext = undefined;
  await e?.dispose();
}
