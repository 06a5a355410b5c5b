// Builds an OCI image layout archive (oci-layout, index.json, blobs/sha256/...) of a one-layer
// image, in memory. containerd imports it with `ctr images import`, naming the image after the
// index's `io.containerd.image.name` annotation.

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { buildTar, type TarEntry } from './tar.js';

export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
}

export interface OciImageSpec {
  /** Full names, e.g. docker.io/k8ts/busybox:latest; the first is the image's main name. */
  names: string[];
  files: TarEntry[];
  config: ImageConfig;
  /** Recorded in the config's history. */
  createdBy?: string;
}

const MEDIA_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MEDIA_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MEDIA_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
// A fixed creation time keeps the image ID the same from one build to the next.
const CREATED = '1970-01-01T00:00:00Z';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function ociArchitecture(arch = process.arch): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[arch] ?? arch;
}

function tagOf(name: string): string {
  const at = name.indexOf('@');
  const base = at >= 0 ? name.slice(0, at) : name;
  const colon = base.lastIndexOf(':');
  return colon > base.lastIndexOf('/') ? base.slice(colon + 1) : 'latest';
}

export interface BuiltArchive {
  tar: Buffer;
  /** The image ID containerd reports (the config digest). */
  imageId: string;
  manifestDigest: string;
}

export function buildOciArchive(spec: OciImageSpec): BuiltArchive {
  const layerTar = buildTar(spec.files);
  const layerGz = gzipSync(layerTar, { level: 9 });
  const config = Buffer.from(
    JSON.stringify({
      created: CREATED,
      architecture: ociArchitecture(),
      os: 'linux',
      config: spec.config,
      rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
      history: [{ created: CREATED, created_by: spec.createdBy ?? 'k8ts built-in image' }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_MANIFEST,
      config: { mediaType: MEDIA_CONFIG, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MEDIA_LAYER, digest: sha256(layerGz), size: layerGz.length }],
    }),
  );
  const manifestDigest = sha256(manifest);
  const index = {
    schemaVersion: 2,
    manifests: spec.names.map((name) => ({
      mediaType: MEDIA_MANIFEST,
      digest: manifestDigest,
      size: manifest.length,
      annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tagOf(name) },
    })),
  };
  const blob = (b: Buffer): TarEntry => ({ name: `blobs/sha256/${sha256(b).slice('sha256:'.length)}`, type: 'file', data: b });
  const tar = buildTar([
    { name: 'oci-layout', type: 'file', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', type: 'file', data: JSON.stringify(index) },
    { name: 'blobs', type: 'dir' },
    { name: 'blobs/sha256', type: 'dir' },
    blob(config),
    blob(manifest),
    blob(layerGz),
  ]);
  return { tar, imageId: sha256(config), manifestDigest };
}
