// Every built-in resource the API server serves.

import { coreV1Resources } from './builtin/core-v1.js';
import type { ResourceDef } from './resource.js';

export function builtinResources(): ResourceDef[] {
  return [...coreV1Resources];
}
