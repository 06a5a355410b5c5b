// The cluster PKI, created on first start under <data-dir>/tls/: a CA, the API server's serving
// certificate, and an admin client certificate (CN system:admin, O system:masters). ECDSA P-256
// through Node's WebCrypto: key generation takes milliseconds, so the server is ready fast.

import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;

export interface PKI {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  /** The API server's client certificate for kubelets (CN kube-apiserver-kubelet-client, O system:masters). */
  kubeletClientCert: string;
  kubeletClientKey: string;
  paths: {
    dir: string;
    caCert: string;
    caKey: string;
    serverCert: string;
    serverKey: string;
    adminCert: string;
    adminKey: string;
    kubeletClientCert: string;
    kubeletClientKey: string;
  };
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function der(pemText: string): ArrayBuffer {
  const b64 = pemText.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const buf = Buffer.from(b64, 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(k: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', k));
}

async function importSigningKey(keyPemText: string): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', der(keyPemText), ALG, true, ['sign']);
}

function serial(): string {
  // A positive 64-bit serial.
  return '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex');
}

export interface IssueOptions {
  caCert: string;
  caKey: string;
  cn: string;
  groups?: string[];
  days?: number;
  /** Serving certificate SANs (DNS names and IPs). Client certificates have none. */
  sans?: string[];
  usage: 'server' | 'client';
}

/** Issues a certificate signed by the CA; returns PEM cert and key. */
export async function issueCert(o: IssueOptions): Promise<{ cert: string; key: string }> {
  const ca = new x509.X509Certificate(o.caCert);
  const caKey = await importSigningKey(o.caKey);
  const keys = await newKeys();
  const subject = [`CN=${o.cn}`, ...(o.groups ?? []).map((g) => `O=${g}`)].join(', ');
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([o.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.AuthorityKeyIdentifierExtension.create(ca, false),
  ];
  if (o.sans?.length) {
    extensions.push(new x509.SubjectAlternativeNameExtension(o.sans.map((s) => ({ type: isIP(s) ? 'ip' : 'dns', value: s }) as x509.JsonGeneralName)));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + (o.days ?? 365) * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions,
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) };
}

async function createCA(): Promise<{ cert: string; key: string }> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=k8ts-ca@${Math.floor(Date.now() / 1000)}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3650 * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) };
}

/** The SANs the serving certificate must cover. */
export function servingSANs(extra: string[]): string[] {
  const base = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', hostname(), '127.0.0.1', '::1'];
  return [...new Set([...base, ...extra.filter(Boolean)])];
}

function certCovers(certPem: string, sans: string[]): boolean {
  const c = new NodeX509(certPem);
  if (new Date(c.validTo).getTime() < Date.now() + 30 * DAY) return false;
  return sans.every((s) => (isIP(s) ? c.checkIP(s) !== undefined : c.checkHost(s) !== undefined));
}

function writeSecret(path: string, data: string): void {
  writeFileSync(path, data, { mode: 0o600 });
}

/**
 * Loads the PKI from <dataDir>/tls, creating what is missing. The serving certificate is
 * re-issued when it no longer covers the requested SANs or is about to expire.
 */
export async function ensurePKI(opts: { dataDir: string; extraSANs?: string[] }): Promise<PKI> {
  const dir = join(opts.dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const paths = {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'serving-kube-apiserver.crt'),
    serverKey: join(dir, 'serving-kube-apiserver.key'),
    adminCert: join(dir, 'client-admin.crt'),
    adminKey: join(dir, 'client-admin.key'),
    kubeletClientCert: join(dir, 'client-kube-apiserver-kubelet.crt'),
    kubeletClientKey: join(dir, 'client-kube-apiserver-kubelet.key'),
  };
  let caCert: string;
  let caKey: string;
  let fresh = false;
  if (existsSync(paths.caCert) && existsSync(paths.caKey)) {
    caCert = readFileSync(paths.caCert, 'utf8');
    caKey = readFileSync(paths.caKey, 'utf8');
  } else {
    ({ cert: caCert, key: caKey } = await createCA());
    writeFileSync(paths.caCert, caCert);
    writeSecret(paths.caKey, caKey);
    fresh = true;
  }
  const sans = servingSANs(opts.extraSANs ?? []);
  let serverCert: string;
  let serverKey: string;
  if (!fresh && existsSync(paths.serverCert) && existsSync(paths.serverKey) && certCovers(readFileSync(paths.serverCert, 'utf8'), sans)) {
    serverCert = readFileSync(paths.serverCert, 'utf8');
    serverKey = readFileSync(paths.serverKey, 'utf8');
  } else {
    ({ cert: serverCert, key: serverKey } = await issueCert({ caCert, caKey, cn: 'kube-apiserver', sans, usage: 'server' }));
    writeFileSync(paths.serverCert, serverCert);
    writeSecret(paths.serverKey, serverKey);
  }
  let adminCert: string;
  let adminKey: string;
  if (!fresh && existsSync(paths.adminCert) && existsSync(paths.adminKey)) {
    adminCert = readFileSync(paths.adminCert, 'utf8');
    adminKey = readFileSync(paths.adminKey, 'utf8');
  } else {
    ({ cert: adminCert, key: adminKey } = await issueCert({ caCert, caKey, cn: 'system:admin', groups: ['system:masters'], usage: 'client', days: 3650 }));
    writeFileSync(paths.adminCert, adminCert);
    writeSecret(paths.adminKey, adminKey);
  }
  let kubeletClientCert: string;
  let kubeletClientKey: string;
  if (!fresh && existsSync(paths.kubeletClientCert) && existsSync(paths.kubeletClientKey)) {
    kubeletClientCert = readFileSync(paths.kubeletClientCert, 'utf8');
    kubeletClientKey = readFileSync(paths.kubeletClientKey, 'utf8');
  } else {
    ({ cert: kubeletClientCert, key: kubeletClientKey } = await issueCert({ caCert, caKey, cn: 'kube-apiserver-kubelet-client', groups: ['system:masters'], usage: 'client', days: 3650 }));
    writeFileSync(paths.kubeletClientCert, kubeletClientCert);
    writeSecret(paths.kubeletClientKey, kubeletClientKey);
  }
  return { caCert, caKey, serverCert, serverKey, adminCert, adminKey, kubeletClientCert, kubeletClientKey, paths };
}

/** Options for https.createServer: client certificates are requested and checked per request. */
export function tlsServerOptions(pki: PKI) {
  return {
    cert: pki.serverCert,
    key: pki.serverKey,
    ca: pki.caCert,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2' as const,
  };
}
