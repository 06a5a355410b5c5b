// Air-gapped nodes: image archives dropped into `<agent>/images/` are imported into containerd
// when the agent starts. Each file is remembered by its SHA-256, so a restart does not import
// it again while a changed or new file is.

import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeletPaths } from '../paths.js';
import { ctrImport } from './ctr-import.js';
import type { Logger } from '../../machinery/logger.js';

type ImageLog = Pick<Logger, 'info' | 'warn'>;

interface ImportedRecord {
  file: string;
  names: string[];
  importedAt: string;
}

export function importedStatePath(paths: KubeletPaths): string {
  return join(paths.agentDir, 'images-imported.json');
}

function readState(file: string): Record<string, ImportedRecord> {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    return doc && typeof doc === 'object' ? doc : {};
  } catch {
    return {};
  }
}

export function fileSha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

export interface ImageDirResult {
  imported: Array<{ file: string; names: string[] }>;
  skipped: string[];
  failed: Array<{ file: string; error: string }>;
}

/**
 * Imports every `*.tar` in `paths.imagesDir` (OCI layout or `docker save` archives) that has not
 * been imported before. A failing file is reported and retried at the next start.
 */
export async function importImageDir(paths: KubeletPaths, ctrSocket: string, log?: ImageLog): Promise<ImageDirResult> {
  const result: ImageDirResult = { imported: [], skipped: [], failed: [] };
  let files: string[];
  try {
    files = readdirSync(paths.imagesDir).filter((f) => f.endsWith('.tar')).sort();
  } catch {
    return result; // no images directory
  }
  const statePath = importedStatePath(paths);
  const state = readState(statePath);
  for (const name of files) {
    const file = join(paths.imagesDir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const sum = await fileSha256(file);
      if (state[sum]) {
        result.skipped.push(file);
        continue;
      }
      const names = await ctrImport(ctrSocket, file);
      state[sum] = { file, names, importedAt: new Date().toISOString() };
      const tmp = `${statePath}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(state, null, 2));
      renameSync(tmp, statePath);
      result.imported.push({ file, names });
      log?.info({ file, images: names }, 'imported image archive');
    } catch (e) {
      result.failed.push({ file, error: (e as Error).message });
      log?.warn({ file, err: (e as Error).message }, 'importing an image archive failed');
    }
  }
  return result;
}
