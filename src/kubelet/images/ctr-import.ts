// Imports image archives (OCI layout or `docker save` tars) into containerd's CRI namespace with
// containerd's own `ctr` tool, which ships with Debian's containerd package. Talking to the
// socket directly means it works while the agent (and its containerd) runs.

import { execFile } from 'node:child_process';

/** containerd namespace the CRI plugin keeps its images and containers in. */
export const CRI_NAMESPACE = 'k8s.io';

export interface CtrImportOptions {
  /** ctr binary (default `ctr` on PATH). */
  ctr?: string;
  /** Give up after this long (default 10 minutes: archives can be gigabytes). */
  timeoutMs?: number;
}

/** Runs `ctr -a <socket> -n k8s.io images import <file>`; returns the image names it reported. */
export function ctrImport(ctrSocket: string, file: string, opts: CtrImportOptions = {}): Promise<string[]> {
  const args = ['-a', ctrSocket, '-n', CRI_NAMESPACE, 'images', 'import', file];
  return new Promise((resolve, reject) => {
    execFile(opts.ctr ?? 'ctr', args, { timeout: opts.timeoutMs ?? 600_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = (stderr || stdout || '').trim() || err.message;
        reject(new Error(`importing ${file} failed: ${detail}`));
        return;
      }
      // ctr prints "unpacking <name> (sha256:...)...done" per image.
      const names = [...stdout.matchAll(/^unpacking (\S+) \(/gm)].map((m) => m[1]);
      resolve(names);
    });
  });
}
