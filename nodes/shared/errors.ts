/** Typed errors, so nodes and tests can tell bad input from a failing device or a bad setting. */
export type ErrorCode = 'INPUT' | 'CONFIG' | 'DEVICE' | 'TIMEOUT' | 'UNAVAILABLE' | 'OVERFLOW';

export class PlantwireError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'PlantwireError';
    this.code = code;
    if (options && 'cause' in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The message a node was given cannot be used: wrong type, NaN, unknown tag, too large. */
export class InputError extends PlantwireError {
  constructor(message: string) {
    super('INPUT', message);
    this.name = 'InputError';
  }
}

/** The node's settings cannot work (caught when the node starts, shown on its status). */
export class ConfigError extends PlantwireError {
  constructor(message: string) {
    super('CONFIG', message);
    this.name = 'ConfigError';
  }
}

/** The device or peer answered with an error, or did not answer. */
export class DeviceError extends PlantwireError {
  constructor(message: string, options?: { cause?: unknown; code?: ErrorCode }) {
    super(options?.code ?? 'DEVICE', message, options);
    this.name = 'DeviceError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
