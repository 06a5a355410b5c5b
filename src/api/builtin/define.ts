// A compact way to declare a built-in kind: schema, strategy and printer in one call.

import type { KubeObject } from '../meta/v1.js';
import { col, nameColumn } from '../printing.js';
import type { Printer, ResourceDef, Strategy, TableColumnDefinition } from '../resource.js';
import { kindSchema, type Schema } from '../schema.js';

export interface KindOptions {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Definition package, e.g. "io.k8s.api.apps.v1". */
  pkg: string;
  properties: Record<string, Schema>;
  required?: string[];
  shortNames?: string[];
  categories?: string[];
  status?: boolean;
  scale?: boolean;
  strategy?: Strategy;
  /** Column definitions after NAME (AGE is not added automatically). */
  columns?: TableColumnDefinition[];
  /** Cells after the name, matching `columns`. */
  cells?: (obj: KubeObject, now: number) => unknown[];
  fieldSelectors?: ResourceDef['fieldSelectors'];
  verbs?: string[];
  storage?: ResourceDef['storage'];
}

export function defineKind(o: KindOptions): ResourceDef {
  const schema = kindSchema(`${o.pkg}.${o.kind}`, { group: o.group, version: o.version, kind: o.kind }, o.properties, o.required ? { required: o.required } : {});
  let printer: Printer | undefined;
  if (o.columns && o.cells) {
    const cells = o.cells;
    printer = { columns: [nameColumn(), ...o.columns], cells: (obj, now) => [obj.metadata.name, ...cells(obj, now)] };
  }
  const def: ResourceDef = {
    group: o.group,
    version: o.version,
    kind: o.kind,
    plural: o.plural,
    singular: o.kind.toLowerCase(),
    namespaced: o.namespaced,
    schema,
    strategy: o.strategy ?? {},
    printer,
  };
  if (o.shortNames) def.shortNames = o.shortNames;
  if (o.categories) def.categories = o.categories;
  if (o.verbs) def.verbs = o.verbs;
  if (o.fieldSelectors) def.fieldSelectors = o.fieldSelectors;
  if (o.storage) def.storage = o.storage;
  if (o.status || o.scale) {
    def.subresources = {};
    if (o.status) def.subresources.status = true;
    if (o.scale) def.subresources.scale = { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' };
  }
  return def;
}

/** Upstream's columns for kinds printed only by name and creation time (roles, CRDs, limit ranges). */
export const createdAtColumns = (): Pick<KindOptions, 'columns' | 'cells'> => ({
  columns: [col('Created At', { type: 'date' })],
  cells: (obj) => [obj.metadata.creationTimestamp],
});

