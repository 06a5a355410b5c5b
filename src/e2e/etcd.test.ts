// The acceptance suite against a k8ts server on a real 3-member etcd cluster (Debian's
// etcd-server on loopback), with one member killed midway.

import { after, before, describe, test } from 'node:test';
import { etcdAvailable, startEtcdCluster, type EtcdCluster } from '../testing/etcd-cluster.js';
import { API_ONLY, startK8ts, type K8tsServer } from '../testing/k8ts-server.js';
import { apiSemantics } from './scenarios/api-semantics.js';
import { badInput } from './scenarios/bad-input.js';
import { clientNode } from './scenarios/client-node.js';
import { kubectlApply } from './scenarios/kubectl-apply.js';
import { kubectlBasics } from './scenarios/kubectl-basics.js';
import { lifecycle } from './scenarios/lifecycle.js';
import { persistence } from './scenarios/persistence.js';
import { watchAndChunks } from './scenarios/watch-and-chunks.js';

describe('k8ts on a 3-member etcd cluster', { concurrency: false, skip: etcdAvailable() ? false : 'etcd-server is not installed (make test installs it)' }, () => {
  let etcd: EtcdCluster;
  let srv: K8tsServer;
  before(async () => {
    etcd = await startEtcdCluster({ members: 3 });
    srv = await startK8ts({ datastoreEndpoint: etcd.endpoint, extraArgs: ['--compaction-interval', '30s', ...API_ONLY] });
  });
  after(async () => {
    await srv?.stop();
    await etcd?.stop();
  });
  const get = () => srv;
  describe('kubectl basics', () => kubectlBasics(get, 'default'));
  describe('kubectl apply', () => kubectlApply(get, 'shop'));
  test('kill one etcd member mid-run', async () => {
    await etcd.killMember(2);
  });
  describe('watch and chunks (one member down)', () => watchAndChunks(get, 'watching'));
  describe('bad input (one member down)', () => badInput(get, 'bad'));
  describe('object lifecycle (one member down)', () => lifecycle(get, 'life'));
  describe('API semantics (one member down)', () => apiSemantics(get, 'sem'));
  describe('client-node (one member down)', () => clientNode(get, 'clientnode'));
  describe('persistence (one member down)', () => persistence(get, 'persist'));
});
