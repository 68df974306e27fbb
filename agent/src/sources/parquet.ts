/** Rows of Parquet files with their column types (each file read whole, once). */
import { parquetSourceSpec, SourceError } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import { parquetMetadata, parquetReadObjects, type SchemaElement } from 'hyparquet'
import type * as z from 'zod'
import { checkFiles, fileReader } from './files.js'
import { defineSource } from './types.js'

type ParquetOptions = z.output<typeof parquetSourceSpec.schema>

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Keep timestamps exact (microseconds), dates as days and JSON as text. */
const PARSERS = {
  timestampFromMilliseconds: (ms: bigint) => ms * 1000n,
  timestampFromMicroseconds: (us: bigint) => us,
  timestampFromNanoseconds: (ns: bigint) => ns / 1000n,
  dateFromDays: (days: number) => days,
  jsonFromBytes: (bytes: Uint8Array) => bytes && new TextDecoder().decode(bytes),
}

export function parquetColumnType(e: SchemaElement): Column['type'] {
  const logical = e.logical_type?.type
  if (
    logical === 'TIMESTAMP' ||
    e.converted_type === 'TIMESTAMP_MILLIS' ||
    e.converted_type === 'TIMESTAMP_MICROS'
  )
    return 'timestamp'
  if (logical === 'DATE' || e.converted_type === 'DATE') return 'date'
  if (logical === 'DECIMAL' || e.converted_type === 'DECIMAL') return 'decimal'
  if (logical === 'JSON' || e.converted_type === 'JSON') return 'json'
  if (
    logical === 'STRING' ||
    e.converted_type === 'UTF8' ||
    logical === 'UUID' ||
    logical === 'ENUM' ||
    e.converted_type === 'ENUM'
  )
    return 'string'
  switch (e.type) {
    case 'BOOLEAN':
      return 'bool'
    case 'INT32':
    case 'INT64':
      return 'int'
    case 'FLOAT':
    case 'DOUBLE':
      return 'float'
    case 'BYTE_ARRAY':
    case 'FIXED_LEN_BYTE_ARRAY':
      return 'bytes'
    default:
      return 'json'
  }
}

function cell(value: unknown, type: Column['type']): Value {
  if (value === null || value === undefined) return null
  if (typeof value === 'bigint') return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value
  if (type === 'decimal') return String(value)
  if (type === 'json' && typeof value !== 'string')
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
  if (type === 'string' && typeof value !== 'string')
    return value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value)
  return value as Value
}

export const parquetSource = defineSource<ParquetOptions>({
  spec: parquetSourceSpec,
  open(options, context) {
    return fileReader({ path: options.path }, context)
  },
  check: (options, context) => checkFiles(options.path, context),
  async decode(_options, bytes) {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    let metadata: ReturnType<typeof parquetMetadata>
    try {
      metadata = parquetMetadata(buffer)
    } catch (error) {
      throw new SourceError(`not a Parquet file: ${(error as Error).message}`, false)
    }
    // Top-level fields; nested groups arrive as JSON.
    const fields: SchemaElement[] = []
    for (let i = 1; i < metadata.schema.length; ) {
      const e = metadata.schema[i] as SchemaElement
      fields.push(e)
      let skip = 1
      let pending = e.num_children ?? 0
      while (pending > 0) {
        const child = metadata.schema[i + skip] as SchemaElement
        pending += (child.num_children ?? 0) - 1
        skip++
      }
      i += skip
    }
    const columns: Column[] = fields.map((e) => ({
      name: e.name,
      type: e.num_children ? 'json' : parquetColumnType(e),
    }))
    const objects = (await parquetReadObjects({ file: buffer, parsers: PARSERS, utf8: true })) as Record<
      string,
      unknown
    >[]
    const rows = objects.map((o) => columns.map((c) => cell(o[c.name], c.type)))
    return { columns, rows, records: rows.map((_, i) => i), rejections: [], recordCount: rows.length }
  },
})
