// Tokens for projected serviceAccountToken sources, through the TokenRequest API
// (POST serviceaccounts/<name>/token), cached and renewed as upstream's token manager does:
// after 80% of the token's lifetime or 24 hours, whichever comes first.

import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';

interface CachedToken {
  token: string;
  issuedAt: number;
  expiresAt: number;
}

const DAY_MS = 24 * 3600_000;
const DISCOVERY_TTL_MS = 5 * 60_000;

export class ServiceAccountTokens {
  private readonly cache = new Map<string, CachedToken>();
  private supported?: { value: boolean; checkedAt: number };

  constructor(
    private readonly client: Client,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the API server serves serviceaccounts/token (asked through discovery, re-asked every few minutes). */
  async available(): Promise<boolean> {
    if (this.supported && this.now() - this.supported.checkedAt < DISCOVERY_TTL_MS) return this.supported.value;
    let value = false;
    try {
      const list = await this.client.request<{ resources?: { name: string }[] }>('GET', '/api/v1');
      value = (list.resources ?? []).some((r) => r.name === 'serviceaccounts/token');
    } catch {
      value = false;
    }
    this.supported = { value, checkedAt: this.now() };
    return value;
  }

  /** A token for the pod's service account, bound to the pod. */
  async token(pod: KubeObject, source: { audience?: string; expirationSeconds?: number }): Promise<string> {
    const ns = pod.metadata.namespace ?? 'default';
    const sa = pod.spec?.serviceAccountName || 'default';
    const expirationSeconds = source.expirationSeconds ?? 3600;
    const key = [pod.metadata.uid, sa, source.audience ?? '', expirationSeconds].join('/');
    const cached = this.cache.get(key);
    const t = this.now();
    if (cached && t < cached.issuedAt + Math.min(0.8 * (cached.expiresAt - cached.issuedAt), DAY_MS)) return cached.token;
    const res = (await this.client.resource(R.serviceaccounts).createSubresource(ns, sa, 'token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        ...(source.audience ? { audiences: [source.audience] } : {}),
        expirationSeconds,
        boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid },
      },
    })) as { status?: { token?: string; expirationTimestamp?: string } };
    const token = res.status?.token;
    if (!token) throw new Error(`the TokenRequest for serviceaccount ${ns}/${sa} returned no token`);
    const exp = Date.parse(res.status?.expirationTimestamp ?? '');
    this.cache.set(key, { token, issuedAt: t, expiresAt: Number.isFinite(exp) ? exp : t + expirationSeconds * 1000 });
    return token;
  }

  forget(uid: string): void {
    for (const k of this.cache.keys()) if (k.startsWith(uid + '/')) this.cache.delete(k);
  }
}
