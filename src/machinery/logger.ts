// The structured logger every component takes: pino's call shape (fields first, then the
// message), so the CLI passes pino loggers and tests pass quiet stand-ins.

export interface Logger {
  info(fields: unknown, msg?: string): void;
  warn(fields: unknown, msg?: string): void;
  error(fields: unknown, msg?: string): void;
  debug(fields: unknown, msg?: string): void;
}
