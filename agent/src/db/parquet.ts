/** Parquet files of our column types, for the file sink and the embedded warehouse. */
import type { Column, Value } from '@outpost/shared/batch'
import { parquetWriteBuffer, type SchemaElement } from 'hyparquet-writer'

const ELEMENT: Record<Column['type'], Omit<SchemaElement, 'name'>> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  int: { type: 'INT64' },
  float: { type: 'DOUBLE' },
  // Decimals keep every digit as text: Parquet's DECIMAL needs one scale for the whole column.
  decimal: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  bool: { type: 'BOOLEAN' },
  timestamp: { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
  date: { type: 'INT32', converted_type: 'DATE' },
  json: { type: 'BYTE_ARRAY', converted_type: 'JSON' },
  bytes: { type: 'BYTE_ARRAY' },
} as Record<Column['type'], Omit<SchemaElement, 'name'>>

export function batchFileName(id: string): string {
  return `${id.replaceAll('/', '__')}.parquet`
}

function columnData(type: Column['type'], values: Value[]): unknown[] {
  if (type === 'int' || type === 'timestamp')
    return values.map((v) => (v === null ? null : BigInt(v as number | bigint)))
  return values
}

export function encodeParquet(columns: Column[], rows: Value[][]): ArrayBuffer {
  return parquetWriteBuffer({
    columnData: columns.map((c, i) => ({
      name: c.name,
      data: columnData(
        c.type,
        rows.map((r) => r[i] ?? null),
      ) as never,
    })),
    schema: [
      { name: 'root', num_children: columns.length },
      ...columns.map(
        (c) => ({ name: c.name, repetition_type: 'OPTIONAL', ...ELEMENT[c.type] }) as SchemaElement,
      ),
    ],
  })
}
