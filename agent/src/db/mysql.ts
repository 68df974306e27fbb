/** MySQL and MariaDB: connections, types and errors, for the mysql source and sink. */
import { readFileSync } from 'node:fs'
import type { Readable } from 'node:stream'
import type { ColumnTypeName } from '@outpost/shared'
import type mysql from 'mysql2'
import { mysqlDriver } from './lazy.js'

export interface MysqlConnectOptions {
  url: string
  statementTimeoutMs?: number
  tls?: { ca_file?: string | undefined; reject_unauthorized: boolean } | undefined
  /** What LOAD DATA LOCAL INFILE reads (any file name maps to this stream). */
  infile?: () => Readable
}

/** A connection that returns every value as text (or bytes), in UTC, big numbers as strings. */
export function mysqlConnection(options: MysqlConnectOptions): mysql.Connection {
  return mysqlDriver().createConnection({
    uri: options.url,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    timezone: 'Z',
    multipleStatements: false,
    connectTimeout: 15_000,
    ...(options.infile ? { infileStreamFactory: options.infile } : {}),
    ...(options.tls
      ? {
          ssl: {
            ...(options.tls.ca_file ? { ca: readFileSync(options.tls.ca_file, 'utf8') } : {}),
            rejectUnauthorized: options.tls.reject_unauthorized,
          },
        }
      : {}),
    // The wrapper mysql2 hands typeCast has no character set, so binary strings arrive decoded
    // as latin1 (one char per byte) and the reader turns them back into bytes by column type.
    typeCast: (field, next) => {
      if (field.type === 'BIT' || field.type === 'GEOMETRY') return field.buffer()
      if (field.type === 'NULL') return next()
      // MySQL sends JSON with the binary character set; it is UTF-8.
      if (field.type === 'JSON') return field.string('utf8')
      return field.string()
    },
  })
}

const BINARY_CHARSET = 63

/** Our column type for a result field (protocol column type code and character set). */
export function mysqlColumnType(
  columnType: number | undefined,
  charset: number | undefined,
  format?: string,
): ColumnTypeName {
  if (format === 'json') return 'json'
  switch (columnType) {
    case 0:
    case 246:
      return 'decimal'
    case 1:
    case 2:
    case 3:
    case 8:
    case 9:
    case 13:
      return 'int'
    case 4:
    case 5:
      return 'float'
    case 7:
    case 12:
      return 'timestamp'
    case 10:
    case 14:
      return 'date'
    case 245:
      return 'json'
    case 16:
    case 255:
      return 'bytes'
    case 249:
    case 250:
    case 251:
    case 252:
    case 253:
    case 254:
      return charset === BINARY_CHARSET ? 'bytes' : 'string'
    default:
      return 'string'
  }
}

export function mysqlIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``
}

const PERMANENT = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_ACCESS_DENIED_NO_PASSWORD_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_NO_SUCH_TABLE',
  'ER_PARSE_ERROR',
  'ER_BAD_FIELD_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_TABLEACCESS_DENIED_ERROR',
  'ENOTFOUND',
])

export function isRetryableMysqlError(error: unknown): boolean {
  const code = (error as { code?: string })?.code
  return typeof code !== 'string' || !PERMANENT.has(code)
}

export function mysqlErrorMessage(error: unknown): string {
  const e = error as { code?: string; message?: string; sqlMessage?: string }
  const what =
    e?.code === 'ER_ACCESS_DENIED_ERROR' || e?.code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR'
      ? 'authentication failed'
      : e?.code === 'ER_NO_SUCH_TABLE'
        ? 'table does not exist'
        : e?.code === 'ER_BAD_DB_ERROR'
          ? 'database does not exist'
          : e?.code === 'ECONNREFUSED'
            ? 'connection refused'
            : e?.code === 'ENOTFOUND'
              ? 'host not found'
              : undefined
  return `${what ? `${what}: ` : ''}${e?.sqlMessage ?? e?.message ?? String(error)}`
}

/** A value as a COPY-text field, the format the worker's typed-text decoder reads. */
export function textField(value: unknown, bytes = false): string {
  if (value === null || value === undefined) return '\\N'
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`
  if (bytes && typeof value === 'string') return `\\\\x${Buffer.from(value, 'latin1').toString('hex')}`
  const text = typeof value === 'string' ? value : String(value)
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) =>
        c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
      )
    : text
}
