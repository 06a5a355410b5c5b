// Per-request facts that flow from the HTTP layer into the REST store.

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface RequestContext {
  user?: UserInfo;
  userAgent: string;
  /** Warnings to return as `Warning: 299 - "..."` headers. */
  warnings: string[];
}

export interface WriteOptions {
  dryRun: boolean;
  fieldManager?: string;
  fieldValidation: FieldValidation;
  /** "" for the main resource, or "status" / "scale". */
  subresource: string;
  /** Set by server-side apply, which maintains managedFields itself. */
  managedFieldsHandled?: boolean;
}
