/**
 * One error class per condition, each with a stable `code` and marked retryable or permanent.
 * Errors cross thread and process boundaries as plain objects and are recognised by `code`.
 */
export abstract class OutpostError extends Error {
  abstract readonly code: string
  abstract readonly retryable: boolean
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

export interface SerializedError {
  name: string
  code: string
  message: string
  retryable: boolean
  stack?: string
}

export class InvalidSpecError extends OutpostError {
  readonly code = 'spec_invalid'
  readonly retryable = false
  constructor(
    readonly errors: readonly { path: string; message: string; line?: number }[],
    what = 'pipeline spec',
  ) {
    super(`invalid ${what}: ${errors.map((e) => `${e.path || '(document)'}: ${e.message}`).join('; ')}`)
  }
}

export class NotFoundError extends OutpostError {
  readonly code = 'not_found'
  readonly retryable = false
}

export class ConflictError extends OutpostError {
  readonly code = 'conflict'
  readonly retryable = false
}

export class UnauthenticatedError extends OutpostError {
  readonly code = 'unauthenticated'
  readonly retryable = false
}

export class PermissionDeniedError extends OutpostError {
  readonly code = 'permission_denied'
  readonly retryable = false
}

export class BadRequestError extends OutpostError {
  readonly code = 'bad_request'
  readonly retryable = false
}

/** A source could not be read: missing file, unreachable host, bad credentials, … */
export class SourceError extends OutpostError {
  readonly code = 'source_failed'
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A sink refused or failed to take a batch. */
export class SinkError extends OutpostError {
  readonly code = 'sink_failed'
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** The run went past the pipeline's `timeout` or was cancelled. */
export class RunCancelledError extends OutpostError {
  readonly code = 'run_cancelled'
  readonly retryable = false
}

/** Local state (the LMDB directory) is unusable; the agent stops rather than lose data. */
export class StateError extends OutpostError {
  readonly code = 'state_unusable'
  readonly retryable = false
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof OutpostError) {
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      ...(error.stack ? { stack: error.stack } : {}),
    }
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return {
      name: error.name,
      code: typeof code === 'string' ? code : 'internal',
      message: error.message,
      retryable: false,
      ...(error.stack ? { stack: error.stack } : {}),
    }
  }
  return { name: 'Error', code: 'internal', message: String(error), retryable: false }
}

/** A retryable flag for errors that did not come from us: network failures are worth retrying. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof OutpostError) return error.retryable
  const code = (error as { code?: unknown } | null)?.code
  return (
    typeof code === 'string' &&
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(code)
  )
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
