import { defineConnectorSpec } from '../component.js'
import { checkDatabaseSource, databaseSourceOptions } from './database.js'

export const postgresSourceSpec = defineConnectorSpec({
  type: 'postgres',
  summary:
    'Rows of a PostgreSQL table or query, streamed (COPY … TO STDOUT), read incrementally by a cursor column.',
  options: databaseSourceOptions,
  check: checkDatabaseSource,
})
