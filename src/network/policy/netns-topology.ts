// For tests: a node in miniature, built from network namespaces so that the host's own
// iptables and links are never touched. A "node" namespace holds a Linux bridge with the
// gateway address; each "pod" namespace has eth0 (a veth whose peer is on the bridge), an address
// in the /24 and a small TCP server that answers "hi <port>" on the ports it is given.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface TopologyPod {
  netns: string;
  ip: string;
}

export interface Topology {
  /** The namespace holding the bridge: where the policy rules go. */
  node: string;
  pods: Record<string, TopologyPod>;
  /** True when `from` (a pod's name, or "node") gets an answer from ip:port (TCP) within the timeout. */
  connect(from: string, ip: string, port: number, timeoutSec?: number): Promise<boolean>;
  /** The same over UDP: a datagram out, the answer back. */
  connectUdp(from: string, ip: string, port: number, timeoutSec?: number): Promise<boolean>;
  destroy(): void;
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** Why the topology cannot be built here, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  for (const bin of ['ip', 'iptables-restore', '/bin/busybox']) {
    if (spawnSync(bin, ['--help'], { stdio: 'ignore' }).error) return `${bin} is not installed`;
  }
  return undefined;
}

const SERVER = `
const net = require('node:net');
const dgram = require('node:dgram');
let pending = 0;
for (const port of process.argv.slice(1).map(Number)) {
  pending += 2;
  const ready = () => { if (--pending === 0) console.log('ready'); };
  net.createServer((s) => { s.on('error', () => {}); s.end('hi ' + port + '\\n'); }).listen(port, '0.0.0.0', ready);
  const u = dgram.createSocket('udp4');
  u.on('message', (m, from) => u.send('hi ' + port + '\\n', from.port, from.address));
  u.bind(port, '0.0.0.0', ready);
}`;

const UDP_CLIENT = `
const u = require('node:dgram').createSocket('udp4');
const [addr, port, ms] = process.argv.slice(1);
u.on('message', (m) => { process.stdout.write(m); process.exit(0); });
setTimeout(() => process.exit(1), Number(ms));
u.send('ping', Number(port), addr);`;

/**
 * Builds the topology: `prefix` names the namespaces (keep it unique per test file), `subnet` is
 * the first three octets ("10.99.7"); pods get .2, .3, ... in the order given and serve `ports`.
 */
export async function createTopology(o: { prefix: string; subnet: string; pods: string[]; ports: number[] }): Promise<Topology> {
  const node = `${o.prefix}-node`;
  const created: string[] = [];
  const servers: ChildProcess[] = [];
  const pods: Record<string, TopologyPod> = {};
  const destroy = () => {
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
    // Deleting a namespace takes its veths and the bridge with it.
    for (const ns of created.reverse()) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  try {
    for (const ns of [node, ...o.pods.map((p) => `${o.prefix}-${p}`)]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    ip('netns', 'add', node);
    created.push(node);
    ip('-n', node, 'link', 'set', 'lo', 'up');
    ip('-n', node, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', node, 'addr', 'add', `${o.subnet}.1/24`, 'dev', 'br0');
    ip('-n', node, 'link', 'set', 'br0', 'up');
    o.pods.forEach((name, i) => {
      const netns = `${o.prefix}-${name}`;
      const addr = `${o.subnet}.${i + 2}`;
      ip('netns', 'add', netns);
      created.push(netns);
      ip('-n', node, 'link', 'add', `veth${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
      ip('-n', node, 'link', 'set', `veth${i}`, 'master', 'br0', 'up');
      ip('-n', netns, 'link', 'set', 'lo', 'up');
      ip('-n', netns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
      ip('-n', netns, 'link', 'set', 'eth0', 'up');
      ip('-n', netns, 'route', 'add', 'default', 'via', `${o.subnet}.1`);
      pods[name] = { netns, ip: addr };
    });
    await Promise.all(
      Object.values(pods).map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn('ip', ['netns', 'exec', p.netns, process.execPath, '-e', SERVER, ...o.ports.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
            servers.push(child);
            const timer = setTimeout(() => reject(new Error(`server in ${p.netns} did not start`)), 10_000);
            child.stdout!.on('data', (d: Buffer) => {
              if (String(d).includes('ready')) {
                clearTimeout(timer);
                resolve();
              }
            });
            child.on('exit', (code) => reject(new Error(`server in ${p.netns} exited with ${code}`)));
          }),
      ),
    );
  } catch (e) {
    destroy();
    throw e;
  }
  const answered = (from: string, argv: string[], port: number) =>
    new Promise<boolean>((resolve) => {
      const child = spawn('ip', ['netns', 'exec', from === 'node' ? node : pods[from].netns, ...argv], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('close', () => resolve(out.includes(`hi ${port}`)));
    });
  return {
    node,
    pods,
    destroy,
    connect: (from, addr, port, timeoutSec = 1) => answered(from, ['/bin/busybox', 'nc', '-w', String(timeoutSec), addr, String(port)], port),
    connectUdp: (from, addr, port, timeoutSec = 1) => answered(from, [process.execPath, '-e', UDP_CLIENT, addr, String(port), String(timeoutSec * 1000)], port),
  };
}
