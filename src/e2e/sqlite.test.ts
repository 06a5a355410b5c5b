// The acceptance suite against a k8ts server on the embedded SQLite datastore.

import { after, before, describe } from 'node:test';
import { API_ONLY, startK8ts, type K8tsServer } from '../testing/k8ts-server.js';
import { apiSemantics } from './scenarios/api-semantics.js';
import { badInput } from './scenarios/bad-input.js';
import { clientNode } from './scenarios/client-node.js';
import { kubectlApply } from './scenarios/kubectl-apply.js';
import { kubectlBasics } from './scenarios/kubectl-basics.js';
import { lifecycle } from './scenarios/lifecycle.js';
import { persistence } from './scenarios/persistence.js';
import { servicesBinding } from './scenarios/services-binding.js';
import { watchAndChunks } from './scenarios/watch-and-chunks.js';

describe('k8ts on SQLite', { concurrency: false }, () => {
  let srv: K8tsServer;
  before(async () => {
    srv = await startK8ts({ extraArgs: ['--compaction-interval', '10s', ...API_ONLY] });
  });
  after(async () => {
    await srv?.stop();
  });
  const get = () => srv;
  describe('kubectl basics', () => kubectlBasics(get, 'default'));
  describe('kubectl apply', () => kubectlApply(get, 'shop'));
  describe('watch and chunks', () => watchAndChunks(get, 'watching'));
  describe('bad input', () => badInput(get, 'bad'));
  describe('object lifecycle', () => lifecycle(get, 'life'));
  describe('API semantics', () => apiSemantics(get, 'sem'));
  describe('client-node', () => clientNode(get, 'clientnode'));
  describe('persistence', () => persistence(get, 'persist'));
  describe('services, binding and eviction', () => servicesBinding(get, 'svcbind'));
});
