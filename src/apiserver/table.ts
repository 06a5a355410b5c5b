// meta.k8s.io/v1 Table responses for `kubectl get` (server-side printing).

import type { KubeObject } from '../api/meta/v1.js';
import type { Printer, ResourceDef, TableColumnDefinition } from '../api/resource.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Upstream's default columns for resources without a printer. */
const defaultPrinter: Printer = {
  columns: [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    { name: 'Created At', type: 'date', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 },
  ],
  cells: (obj) => [obj.metadata.name, obj.metadata.creationTimestamp],
};

export function printerOf(def: ResourceDef): Printer {
  return def.printer ?? defaultPrinter;
}

export function tableRowObject(obj: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export interface TableOptions {
  include: IncludeObject;
  now: number;
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
  /** Omit column definitions (watch events after the first). */
  noHeaders?: boolean;
}

export function toTable(def: ResourceDef, objs: KubeObject[], opts: TableOptions): Record<string, unknown> {
  const printer = printerOf(def);
  const rows = objs.map((obj) => {
    let cells: unknown[];
    try {
      cells = printer.cells(obj, opts.now);
    } catch {
      cells = printer.columns.map((_, i) => (i === 0 ? obj.metadata.name : '<unknown>'));
    }
    const row: Record<string, unknown> = { cells };
    const o = tableRowObject(obj, opts.include);
    if (o !== undefined) row.object = o;
    return row;
  });
  const metadata: Record<string, unknown> = {};
  if (opts.resourceVersion) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue) metadata.continue = opts.continue;
  if (opts.remainingItemCount !== undefined) metadata.remainingItemCount = opts.remainingItemCount;
  const columnDefinitions: TableColumnDefinition[] = opts.noHeaders ? [] : printer.columns;
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata, columnDefinitions, rows };
}
