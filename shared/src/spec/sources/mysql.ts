import { defineConnectorSpec } from '../component.js'
import { checkDatabaseSource, databaseSourceOptions } from './database.js'

export const mysqlSourceSpec = defineConnectorSpec({
  type: 'mysql',
  summary: 'Rows of a MySQL or MariaDB table or query, streamed, read incrementally by a cursor column.',
  options: databaseSourceOptions,
  check: checkDatabaseSource,
})
