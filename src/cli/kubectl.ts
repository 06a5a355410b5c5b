// `k8ts kubectl ...`: kubectl with the local server's admin kubeconfig.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { defaultDataDir } from './flags.js';

export async function runKubectl(args: string[]): Promise<void> {
  let dataDir = defaultDataDir();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--data-dir') dataDir = args[++i];
    else if (args[i].startsWith('--data-dir=')) dataDir = args[i].slice('--data-dir='.length);
    else rest.push(args[i]);
  }
  const env = { ...process.env, KUBECONFIG: process.env.KUBECONFIG ?? join(dataDir, 'kubeconfig') };
  const child = spawn('kubectl', rest, { stdio: 'inherit', env });
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  process.exitCode = code;
}
