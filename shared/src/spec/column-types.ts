import * as z from 'zod'

/** The one set of column types every source, transform and sink maps to and from. */
export const COLUMN_TYPES = [
  'string',
  'int',
  'float',
  'decimal',
  'bool',
  'timestamp',
  'date',
  'json',
  'bytes',
] as const
export type ColumnTypeName = (typeof COLUMN_TYPES)[number]

export const columnType = z.enum(COLUMN_TYPES)

export interface ColumnSchema {
  name: string
  type: ColumnTypeName
}
