// /version: k8ts reports the Kubernetes version whose API it serves, so that kubectl's version
// skew logic (and the kubectl dispatcher on these machines) picks a matching client.

import { readFileSync } from 'node:fs';

export const KUBERNETES_VERSION = { major: '1', minor: '32', patch: '0' };

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return String(pkg.version);
  } catch {
    return '0.0.0';
  }
}

const BUILD_DATE = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export function versionInfo() {
  const { major, minor, patch } = KUBERNETES_VERSION;
  return {
    major,
    minor,
    gitVersion: `v${major}.${minor}.${patch}+k8ts.${packageVersion()}`,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: BUILD_DATE,
    goVersion: `node${process.versions.node}`,
    compiler: 'k8ts',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}
