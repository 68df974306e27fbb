/**
 * Structured logs: one JSON object per line on stdout (the journal reads it), or a short human
 * form for terminals. Never one line per row: callers log per run, per batch error kind, or
 * through `throttled`.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFormat = 'json' | 'pretty'
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface LoggerOptions {
  level?: LogLevel
  format?: LogFormat
  /** Where lines go; stdout by default. */
  write?: (line: string) => void
  /** Strings that must never appear in a log line (resolved secrets); replaced by ***. */
  redact?: () => readonly string[]
}

export class Logger {
  private readonly throttle = new Map<string, { until: number; suppressed: number }>()
  constructor(
    private readonly options: Required<Pick<LoggerOptions, 'level' | 'format' | 'write'>> &
      Pick<LoggerOptions, 'redact'>,
    private readonly fields: Record<string, unknown> = {},
  ) {}

  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.options, { ...this.fields, ...fields })
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log('debug', msg, fields)
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log('info', msg, fields)
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log('warn', msg, fields)
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log('error', msg, fields)
  }

  /**
   * Logs at most once per `intervalMs` for a key (a retry loop, a failing connection); the next
   * line says how many were suppressed meanwhile.
   */
  throttled(
    key: string,
    intervalMs: number,
    level: LogLevel,
    msg: string,
    fields?: Record<string, unknown>,
  ): void {
    const now = Date.now()
    const state = this.throttle.get(key)
    if (state && now < state.until) {
      state.suppressed++
      return
    }
    const suppressed = state?.suppressed ?? 0
    this.throttle.set(key, { until: now + intervalMs, suppressed: 0 })
    this.log(level, msg, suppressed > 0 ? { ...fields, suppressed } : fields)
  }

  /** Forget a throttle key, e.g. once the failing connection is back, so the next failure logs at once. */
  resetThrottle(key: string): void {
    this.throttle.delete(key)
  }

  private log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (RANK[level] < RANK[this.options.level]) return
    const record: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      msg,
      ...this.fields,
      ...fields,
    }
    let line: string
    if (this.options.format === 'json') {
      line = JSON.stringify(record, replacer)
    } else {
      const { time, level: _l, msg: _m, ...rest } = record
      const extra = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, replacer)}`)
        .join(' ')
      line = `${String(time).slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}${extra ? ` ${extra}` : ''}`
    }
    for (const secret of this.options.redact?.() ?? []) {
      if (secret.length >= 4 && line.includes(secret)) line = line.split(secret).join('***')
    }
    this.options.write(line)
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Error)
    return {
      name: value.name,
      message: value.message,
      ...((value as { code?: unknown }).code ? { code: (value as { code?: unknown }).code } : {}),
    }
  return value
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return new Logger({
    level: options.level ?? 'info',
    format: options.format ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    write: options.write ?? ((line) => process.stdout.write(`${line}\n`)),
    ...(options.redact ? { redact: options.redact } : {}),
  })
}
