// Helpers for Table columns (`kubectl get`): shared by every resource's printer.

import type { TableColumnDefinition } from './resource.js';

/** Column definition with upstream's defaults (type string, priority 0). */
export function col(name: string, opts: Partial<TableColumnDefinition> = {}): TableColumnDefinition {
  return { name, type: 'string', format: '', description: '', priority: 0, ...opts };
}

export const nameColumn = (): TableColumnDefinition => col('Name', { format: 'name', description: 'Name must be unique within a namespace.' });
export const ageColumn = (): TableColumnDefinition => col('Age', { description: 'Time since the object was created.' });

/**
 * Human-readable duration as kubectl's Age column prints it ("5s", "3m10s", "2d4h", "3y").
 * Follows the bucket boundaries of apimachinery's duration.HumanDuration.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

/** The Age cell for an object created at `ts` (RFC 3339), "<unknown>" when absent. */
export function age(ts: string | null | undefined, now: number): string {
  if (!ts) return '<unknown>';
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now - t);
}

/** Comma-joined list or "<none>", as upstream printers show empty values. */
export function listOrNone(items: (string | undefined)[] | undefined): string {
  const xs = (items ?? []).filter((x): x is string => !!x);
  return xs.length ? xs.join(',') : '<none>';
}

/** "k=v,k2=v2" or "<none>" for label maps and selectors. */
export function mapOrNone(m: Record<string, string> | undefined): string {
  if (!m) return '<none>';
  const keys = Object.keys(m).sort();
  return keys.length ? keys.map((k) => `${k}=${m[k]}`).join(',') : '<none>';
}
