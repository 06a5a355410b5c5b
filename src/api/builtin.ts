// Every built-in resource the API server serves.

import { appsV1Resources } from './builtin/apps-v1.js';
import { batchV1Resources } from './builtin/batch-v1.js';
import { coreV1Resources } from './builtin/core-v1.js';
import { networkingV1Resources, rbacV1Resources } from './builtin/networking-rbac.js';
import { otherGroupResources } from './builtin/other-groups.js';
import type { ResourceDef } from './resource.js';

export function builtinResources(): ResourceDef[] {
  return [...coreV1Resources, ...appsV1Resources, ...batchV1Resources, ...networkingV1Resources, ...rbacV1Resources, ...otherGroupResources];
}
