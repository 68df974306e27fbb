import { csvSourceSpec } from './csv.js'
import { excelSourceSpec } from './excel.js'
import { httpSourceSpec } from './http.js'
import { jsonSourceSpec } from './json.js'
import { mysqlSourceSpec } from './mysql.js'
import { ndjsonSourceSpec } from './ndjson.js'
import { parquetSourceSpec } from './parquet.js'
import { postgresSourceSpec } from './postgres.js'

export {
  csvSourceSpec,
  excelSourceSpec,
  httpSourceSpec,
  jsonSourceSpec,
  mysqlSourceSpec,
  ndjsonSourceSpec,
  parquetSourceSpec,
  postgresSourceSpec,
}

/** Every source type, in one explicit list. */
export const sourceSpecs = [
  csvSourceSpec,
  ndjsonSourceSpec,
  jsonSourceSpec,
  parquetSourceSpec,
  excelSourceSpec,
  postgresSourceSpec,
  mysqlSourceSpec,
  httpSourceSpec,
] as const
