// API errors as metav1.Status values. Every failure that reaches a client goes through
// StatusError so that code, reason, message and details match upstream.
// Reasons: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/

import { type FieldError, fieldErrorMessage } from './field-errors.js';

export type StatusReason =
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'ServerTimeout'
  | 'Timeout'
  | 'TooManyRequests'
  | 'BadRequest'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'InternalError'
  | 'Expired'
  | 'ServiceUnavailable'
  | '';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** Identifies the resource an error is about, as upstream's schema.GroupResource. */
export interface GroupResource {
  group: string;
  resource: string;
}

const qualified = (gr: GroupResource) => (gr.group ? `${gr.resource}.${gr.group}` : gr.resource);

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): Status {
    const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    if (this.details) s.details = this.details;
    if (!this.reason) delete s.reason;
    return s;
  }

  static isStatusError(e: unknown): e is StatusError {
    return e instanceof StatusError;
  }

  static notFound(gr: GroupResource, name: string): StatusError {
    return new StatusError(404, 'NotFound', `${qualified(gr)} "${name}" not found`, { name, group: gr.group, kind: gr.resource });
  }

  static alreadyExists(gr: GroupResource, name: string): StatusError {
    return new StatusError(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, { name, group: gr.group, kind: gr.resource });
  }

  /** Optimistic-concurrency failure, worded as upstream's storage layer does. */
  static conflict(gr: GroupResource, name: string, detail: string): StatusError {
    return new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${detail}`, {
      name,
      group: gr.group,
      kind: gr.resource,
    });
  }

  /** 422 with field causes: `The Deployment "x" is invalid: spec.replicas: Invalid value: ...`. */
  static invalid(group: string, kind: string, name: string, errs: FieldError[]): StatusError {
    const msgs = errs.map(fieldErrorMessage);
    let agg: string;
    if (msgs.length === 0) agg = '';
    else if (msgs.length === 1) agg = msgs[0];
    else agg = `[${msgs.join(', ')}]`;
    const causes: StatusCause[] = errs.map((e) => ({
      reason: e.type,
      message: fieldErrorMessage(e).slice(e.field.length + 2),
      field: e.field,
    }));
    const gk = group ? `${kind}.${group}` : kind;
    return new StatusError(422, 'Invalid', `${gk} "${name}" is invalid: ${agg}`, { name, group, kind, causes });
  }

  static badRequest(message: string): StatusError {
    return new StatusError(400, 'BadRequest', message);
  }

  static gone(message: string): StatusError {
    return new StatusError(410, 'Expired', message);
  }

  static resourceExpired(message: string): StatusError {
    return new StatusError(410, 'Expired', message);
  }

  static unauthorized(message = 'Unauthorized'): StatusError {
    return new StatusError(401, 'Unauthorized', message);
  }

  static forbidden(gr: GroupResource, name: string, message: string): StatusError {
    const what = name ? `${qualified(gr)} "${name}"` : qualified(gr);
    return new StatusError(403, 'Forbidden', `${what} is forbidden: ${message}`, { name, group: gr.group, kind: gr.resource });
  }

  static methodNotSupported(gr: GroupResource, verb: string): StatusError {
    return new StatusError(405, 'MethodNotAllowed', `${verb} is not supported on resources of kind "${qualified(gr)}"`, {
      group: gr.group,
      kind: gr.resource,
    });
  }

  static notAcceptable(message: string): StatusError {
    return new StatusError(406, 'NotAcceptable', message);
  }

  static unsupportedMediaType(accepted: string[]): StatusError {
    return new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
  }

  static requestEntityTooLarge(message: string): StatusError {
    return new StatusError(413, 'RequestEntityTooLarge', message);
  }

  static tooManyRequests(message: string, retryAfterSeconds = 1): StatusError {
    return new StatusError(429, 'TooManyRequests', message, { retryAfterSeconds });
  }

  static timeout(message: string): StatusError {
    return new StatusError(504, 'Timeout', message);
  }

  static internal(message: string): StatusError {
    return new StatusError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
  }

  static serviceUnavailable(message: string): StatusError {
    return new StatusError(503, 'ServiceUnavailable', message);
  }
}
