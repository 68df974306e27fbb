import { defineConnectorSpec } from '../component.js'
import { filePath } from './files.js'

export const parquetSourceSpec = defineConnectorSpec({
  type: 'parquet',
  summary: 'Rows of Parquet files, with their column types.',
  options: { path: filePath },
})
