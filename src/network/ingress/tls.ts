// TLS for the HTTPS listener: the Ingress `spec.tls` entries name a kubernetes.io/tls Secret per
// set of hosts; the SNI server name picks one. Without a match (or with a broken Secret) the
// controller's self-signed default certificate answers, as ingress-nginx's "Fake Certificate".

import { webcrypto } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Indexer } from '../../client/informer.js';
import { hostCovers, normalizeHost } from './routing.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

// RSA on purpose: when the listener's default certificate is ECDSA, OpenSSL keeps serving it
// even after the SNI callback switched to a context holding an RSA certificate (measured with
// Node 20); with an RSA default, both RSA and ECDSA certificates from Secrets are served.
const ALG = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as const;

/** A self-signed serving certificate for when no Secret matches. */
export async function selfSignedCertificate(cn = 'Kubernetes Ingress Controller Fake Certificate'): Promise<{ cert: string; key: string }> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    name: `CN=${cn}, O=Acme Co`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 365 * 24 * 3600 * 1000),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'ingress.local' }]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key };
}

interface TLSEntry {
  hosts: string[];
  secretKey: string; // namespace/name
}

export class CertificateStore {
  private entries: TLSEntry[] = [];
  private readonly contexts = new Map<string, { rv: string; ctx: SecureContext | undefined }>();

  constructor(
    private readonly secrets: Indexer,
    /** Called once per distinct problem (missing Secret, bad type, unparsable key pair). */
    private readonly warn: (key: string, message: string) => void,
  ) {}

  /** Takes the TLS entries of the served Ingresses (oldest first wins on overlapping hosts). */
  setIngresses(ingresses: KubeObject[]): void {
    const entries: TLSEntry[] = [];
    for (const ing of ingresses) {
      const spec = (ing as Obj).spec ?? {};
      for (const t of (spec.tls ?? []) as Obj[]) {
        if (!t.secretName) continue;
        // Without hosts, the entry covers the hosts of the Ingress's rules.
        const hosts = (t.hosts?.length ? t.hosts : ((spec.rules ?? []) as Obj[]).map((r) => r.host).filter(Boolean)) as string[];
        entries.push({ hosts: hosts.map(normalizeHost), secretKey: `${ing.metadata.namespace}/${t.secretName}` });
      }
    }
    this.entries = entries;
  }

  /** Checks every referenced Secret now, so that problems are logged without waiting for a client. */
  validate(): void {
    for (const e of this.entries) this.contextOf(e.secretKey);
  }

  /** The SecureContext for a server name, or undefined for the default certificate. */
  contextFor(serverName: string): SecureContext | undefined {
    const name = normalizeHost(serverName);
    let wildcard: TLSEntry | undefined;
    for (const e of this.entries) {
      for (const h of e.hosts) {
        if (h === name) {
          const ctx = this.contextOf(e.secretKey);
          if (ctx) return ctx;
        } else if (!wildcard && hostCovers(h, name)) wildcard = e;
      }
    }
    return wildcard ? this.contextOf(wildcard.secretKey) : undefined;
  }

  private contextOf(secretKey: string): SecureContext | undefined {
    const secret = this.secrets.get(secretKey) as Obj | undefined;
    if (!secret) {
      this.warn(`secret:${secretKey}:missing`, `secret "${secretKey}" not found; using the default certificate`);
      return undefined;
    }
    const rv = secret.metadata.resourceVersion ?? '';
    const cached = this.contexts.get(secretKey);
    if (cached && cached.rv === rv) return cached.ctx;
    let ctx: SecureContext | undefined;
    if (secret.type !== 'kubernetes.io/tls' && !(secret.data?.['tls.crt'] && secret.data?.['tls.key'])) {
      this.warn(`secret:${secretKey}:${rv}`, `secret "${secretKey}" is not of type kubernetes.io/tls; using the default certificate`);
    } else {
      try {
        const cert = Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64');
        const key = Buffer.from(secret.data?.['tls.key'] ?? '', 'base64');
        ctx = createSecureContext({ cert, key });
      } catch (e) {
        this.warn(`secret:${secretKey}:${rv}`, `secret "${secretKey}" has no valid tls.crt/tls.key: ${(e as Error).message}; using the default certificate`);
      }
    }
    this.contexts.set(secretKey, { rv, ctx });
    return ctx;
  }

  /** Drops contexts of Secrets that are gone. */
  prune(): void {
    for (const k of this.contexts.keys()) if (!this.secrets.get(k)) this.contexts.delete(k);
  }
}
