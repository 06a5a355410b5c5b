// Images every node has without a registry: the pod sandbox ("pause") image and a busybox image.
// They are built on the node from what is installed (gcc, busybox-static), written as OCI archives
// into a cache directory, and imported into containerd when ImageStatus says they are missing.
//
// pause: a static C program (compiled with `gcc -static` when gcc is there) that exits on
// SIGTERM/SIGINT, reaps children and otherwise sleeps in pause(). Without gcc it is busybox's
// shell trapping TERM/INT and waiting (a bigger image; same behaviour).
// busybox: busybox-static and its applets, except `nslookup` when gcc is there: a static program
// on libc's resolver (see nslookup-c.ts), because busybox's own ignores the search list.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { Logger } from '../../machinery/logger.js';
import { ctrImport } from './ctr-import.js';
import { NSLOOKUP_C } from './nslookup-c.js';
import { buildOciArchive, type OciImageSpec } from './oci-archive.js';
import type { TarEntry } from './tar.js';

const execFileP = promisify(execFile);

/** The sandbox image containerd is configured with. */
export const PAUSE_IMAGE = 'docker.io/k8ts/pause:3.10';
// A pinned tag (Debian's busybox-static is 1.35): imagePullPolicy defaults to IfNotPresent, so
// the kubelet never tries a registry for it. `:latest` defaults to Always and would pull.
export const BUSYBOX_IMAGE = 'docker.io/k8ts/busybox:1.35';
/** Other names of the same image: `--image=busybox:1.35` and, with imagePullPolicy IfNotPresent, `busybox`. */
export const BUSYBOX_ALIASES = ['docker.io/library/busybox:1.35', 'docker.io/k8ts/busybox:latest', 'docker.io/library/busybox:latest'];

/** Every name the node provides itself (normalised); the image manager never pulls these. */
export const BUILTIN_IMAGE_NAMES: readonly string[] = [PAUSE_IMAGE, BUSYBOX_IMAGE, ...BUSYBOX_ALIASES];

export interface BuiltinImages {
  pause: string;
  busybox: string;
}

export interface BuiltinImageOptions {
  /** Where the built archives are kept between starts. */
  cacheDir: string;
  log: Logger;
  busyboxPath?: string;
  gcc?: string;
}

// Bump when the content of the built images changes, so cached archives are rebuilt.
const BUILDER_VERSION = '3';

const PAUSE_C = `#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { (void)sig; _exit(0); }
static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, 0, WNOHANG) > 0) {}
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, 0);
  sigaction(SIGTERM, &sa, 0);
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, 0);
  for (;;) pause();
}
`;

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;

const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
`;

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

async function which(cmd: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = join(dir || '.', cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // next
    }
  }
  return undefined;
}

function findBusybox(explicit?: string): string {
  const candidates = explicit ? [explicit] : ['/bin/busybox', '/usr/bin/busybox'];
  for (const p of candidates) if (existsSync(p)) return p;
  throw new Error('busybox not found (install busybox-static): the built-in busybox image needs it');
}

async function busyboxApplets(busybox: string): Promise<string[]> {
  const { stdout } = await execFileP(busybox, ['--list']);
  return stdout.split('\n').map((s) => s.trim()).filter((s) => s && s !== 'busybox' && /^[\w.[\]-]+$/.test(s));
}

/** Busybox must be static: the image has no libc. */
async function assertStatic(busybox: string): Promise<void> {
  const head = readFileSync(busybox).subarray(0, 4096);
  // A dynamically linked ELF names its interpreter (e.g. /lib64/ld-linux-x86-64.so.2).
  if (head.includes(Buffer.from('/ld-linux')) || head.includes(Buffer.from('ld-musl'))) {
    throw new Error(`${busybox} is dynamically linked; the built-in images need busybox-static`);
  }
}

/** The busybox image's content (also used by tests to push a busybox under other names). */
export async function busyboxImageSpec(busybox = findBusybox(), nslookup?: Buffer): Promise<OciImageSpec> {
  await assertStatic(busybox);
  const applets = (await busyboxApplets(busybox)).filter((a) => !(nslookup && a === 'nslookup'));
  const files: TarEntry[] = [
    { name: 'bin', type: 'dir' },
    { name: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync(busybox) },
    ...applets.map((a): TarEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    ...(nslookup ? [{ name: 'bin/nslookup', type: 'file', mode: 0o755, data: nslookup } as TarEntry] : []),
    { name: 'dev', type: 'dir' },
    { name: 'etc', type: 'dir' },
    { name: 'etc/passwd', type: 'file', data: PASSWD },
    { name: 'etc/group', type: 'file', data: GROUP },
    { name: 'etc/nsswitch.conf', type: 'file', data: 'hosts: files dns\n' },
    { name: 'home', type: 'dir' },
    { name: 'proc', type: 'dir' },
    { name: 'root', type: 'dir', mode: 0o700 },
    { name: 'sys', type: 'dir' },
    { name: 'tmp', type: 'dir', mode: 0o1777 },
    { name: 'usr', type: 'dir' },
    { name: 'usr/bin', type: 'dir' },
    // Scripts start with #!/usr/bin/env sh.
    { name: 'usr/bin/env', type: 'symlink', linkname: '../../bin/busybox' },
    { name: 'usr/sbin', type: 'dir' },
    { name: 'var', type: 'dir' },
    { name: 'var/spool', type: 'dir' },
    { name: 'var/spool/mail', type: 'dir' },
    { name: 'var/www', type: 'dir' },
  ];
  return {
    names: [BUSYBOX_IMAGE, ...BUSYBOX_ALIASES],
    files,
    config: { Env: [PATH_ENV], Cmd: ['sh'] },
    createdBy: 'k8ts: busybox-static with its applets',
  };
}

/** `gcc -static` of one C source with extra link flags; undefined (and a warning) on failure. */
async function compileStatic(gcc: string, name: string, source: string, libs: string[], log: Logger): Promise<Buffer | undefined> {
  const tmp = mkdtempSync(`/tmp/k8ts-${name}-`);
  try {
    writeFileSync(join(tmp, `${name}.c`), source);
    await execFileP(gcc, ['-static', '-Os', '-s', '-o', join(tmp, name), join(tmp, `${name}.c`), ...libs], { timeout: 120_000 });
    return readFileSync(join(tmp, name));
  } catch (e) {
    log.warn({ err: (e as Error).message }, `compiling ${name} failed`);
    return undefined;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function pauseImage(busybox: string, gcc: string | undefined, log: Logger): Promise<OciImageSpec> {
  const pause = gcc ? await compileStatic(gcc, 'pause', PAUSE_C, [], log) : undefined;
  if (pause) {
    return {
      names: [PAUSE_IMAGE],
      files: [{ name: 'pause', type: 'file', mode: 0o755, data: pause }],
      config: { Entrypoint: ['/pause'], User: '65535:65535' },
      createdBy: 'k8ts: static pause program (gcc -static)',
    };
  }
  await assertStatic(busybox);
  return {
    names: [PAUSE_IMAGE],
    files: [
      { name: 'bin', type: 'dir' },
      { name: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync(busybox) },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'bin/sleep', type: 'symlink', linkname: 'busybox' },
    ],
    // PID 1 ignores signals it has no handler for, hence the explicit trap.
    config: { Entrypoint: ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'], User: '65535:65535' },
    createdBy: 'k8ts: busybox shell waiting for TERM/INT (no gcc)',
  };
}

interface CachedArchive {
  file: string;
  names: string[];
  /** The config digest containerd reports as the image's id: another one means an older build. */
  imageId: string;
}

/** Builds (or reuses) the archives of the built-in images under `cacheDir`. */
export async function builtinImageArchives(opts: BuiltinImageOptions): Promise<{ pause: CachedArchive; busybox: CachedArchive }> {
  mkdirSync(opts.cacheDir, { recursive: true });
  const busybox = findBusybox(opts.busyboxPath);
  const gcc = opts.gcc ?? (await which('gcc'));
  const bb = statSync(busybox);
  // What the content depends on; a change (new busybox, gcc installed) rebuilds.
  const key = createHash('sha256')
    .update([BUILDER_VERSION, busybox, bb.size, bb.mtimeMs, gcc ?? 'no-gcc', process.arch].join('\0'))
    .digest('hex');
  const keyFile = join(opts.cacheDir, 'key');
  const pauseTar = join(opts.cacheDir, 'pause.tar');
  const busyboxTar = join(opts.cacheDir, 'busybox.tar');
  const idsFile = join(opts.cacheDir, 'ids.json');
  let cachedKey = '';
  try {
    cachedKey = readFileSync(keyFile, 'utf8').trim();
  } catch {
    // first build
  }
  let ids: { pause?: string; busybox?: string } = {};
  try {
    ids = JSON.parse(readFileSync(idsFile, 'utf8'));
  } catch {
    // first build, or a cache from before ids were kept
  }
  if (cachedKey !== key || !existsSync(pauseTar) || !existsSync(busyboxTar) || !ids.pause || !ids.busybox) {
    const started = Date.now();
    // Unique temp names: two agents (or tests) may share a cache directory.
    const write = (file: string, spec: OciImageSpec): string => {
      const { tar, imageId } = buildOciArchive(spec);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, tar);
      renameSync(tmp, file);
      return imageId;
    };
    const nslookup = gcc ? await compileStatic(gcc, 'nslookup', NSLOOKUP_C, ['-lresolv'], opts.log) : undefined;
    ids = { pause: write(pauseTar, await pauseImage(busybox, gcc, opts.log)), busybox: write(busyboxTar, await busyboxImageSpec(busybox, nslookup)) };
    const idsTmp = `${idsFile}.${process.pid}.tmp`;
    writeFileSync(idsTmp, JSON.stringify(ids));
    renameSync(idsTmp, idsFile);
    writeFileSync(keyFile, `${key}\n`);
    opts.log.info({ dir: opts.cacheDir, ms: Date.now() - started, pause: gcc ? 'gcc -static' : 'busybox', nslookup: nslookup ? 'libc resolver' : 'busybox' }, 'built the built-in images');
  }
  return {
    pause: { file: pauseTar, names: [PAUSE_IMAGE], imageId: ids.pause! },
    busybox: { file: busyboxTar, names: [BUSYBOX_IMAGE, ...BUSYBOX_ALIASES], imageId: ids.busybox! },
  };
}

/**
 * Makes sure the pause and busybox images are in containerd: imports the cached archives of any
 * whose names ImageStatus does not know.
 */
export async function ensureBuiltinImages(opts: BuiltinImageOptions & { runtime: ContainerRuntime; ctrSocket: string }): Promise<BuiltinImages> {
  const archives = await builtinImageArchives(opts);
  for (const archive of [archives.pause, archives.busybox]) {
    // Missing, or an older build under the same names (a node that ran a previous version).
    const present = await Promise.all(archive.names.map((image) => opts.runtime.imageStatus({ image })));
    if (present.every((img) => img?.id === archive.imageId)) continue;
    await ctrImport(opts.ctrSocket, archive.file);
    for (const image of archive.names) {
      if (!(await opts.runtime.imageStatus({ image }))) throw new Error(`image ${image} is still missing after importing ${archive.file}`);
    }
    opts.log.info({ images: archive.names }, 'imported built-in image');
  }
  return { pause: PAUSE_IMAGE, busybox: BUSYBOX_IMAGE };
}
