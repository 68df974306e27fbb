/**
 * Every source, transform and sink the agent can run, in one explicit list each. The `satisfies`
 * clauses make a spec in shared/ without an implementation here a type error.
 */
import type { sinkSpecs, sourceSpecs, transformSpecs } from '@outpost/shared'
import { centralSink } from './sinks/central.js'
import { fileSink } from './sinks/file.js'
import { mysqlSink } from './sinks/mysql.js'
import { postgresSink } from './sinks/postgres.js'
import type { SinkImpl } from './sinks/types.js'
import { csvSource } from './sources/csv.js'
import { excelSource } from './sources/excel.js'
import { httpSource } from './sources/http.js'
import { jsonSource } from './sources/json.js'
import { mysqlSource } from './sources/mysql.js'
import { ndjsonSource } from './sources/ndjson.js'
import { parquetSource } from './sources/parquet.js'
import { postgresSource } from './sources/postgres.js'
import type { SourceImpl } from './sources/types.js'
import { aggregateTransform } from './transforms/aggregate.js'
import { castTransform } from './transforms/cast.js'
import {
  addMetadataTransform,
  dropTransform,
  fillTransform,
  maskTransform,
  outliersTransform,
  selectTransform,
  trimTransform,
} from './transforms/columns.js'
import { dedupeTransform } from './transforms/dedupe.js'
import { deriveTransform } from './transforms/derive.js'
import { filterTransform } from './transforms/filter.js'
import { lookupTransform } from './transforms/lookup.js'
import { renameTransform } from './transforms/rename.js'
import type { TransformImpl } from './transforms/types.js'

type SourceType = (typeof sourceSpecs)[number]['type']
type SinkType = (typeof sinkSpecs)[number]['type']
type TransformName = (typeof transformSpecs)[number]['name']

// biome-ignore lint/suspicious/noExplicitAny: each entry has its own options type
export const sources: Record<SourceType, SourceImpl<any>> = {
  csv: csvSource,
  ndjson: ndjsonSource,
  json: jsonSource,
  parquet: parquetSource,
  excel: excelSource,
  postgres: postgresSource,
  mysql: mysqlSource,
  http: httpSource,
}

// biome-ignore lint/suspicious/noExplicitAny: each entry has its own options type
export const sinks: Record<SinkType, SinkImpl<any>> = {
  file: fileSink,
  central: centralSink,
  postgres: postgresSink,
  mysql: mysqlSink,
}

// biome-ignore lint/suspicious/noExplicitAny: each entry has its own options type
export const transforms: Record<TransformName, TransformImpl<any>> = {
  rename: renameTransform,
  select: selectTransform,
  drop: dropTransform,
  cast: castTransform,
  trim: trimTransform,
  fill: fillTransform,
  filter: filterTransform,
  derive: deriveTransform,
  mask: maskTransform,
  add_metadata: addMetadataTransform,
  outliers: outliersTransform,
  dedupe: dedupeTransform,
  lookup: lookupTransform,
  aggregate: aggregateTransform,
}
