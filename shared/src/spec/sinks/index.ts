import { centralSinkSpec } from './central.js'
import { fileSinkSpec } from './file.js'
import { mysqlSinkSpec } from './mysql.js'
import { postgresSinkSpec } from './postgres.js'

export { TABLE_PATTERN } from './central.js'
export { centralSinkSpec, fileSinkSpec, mysqlSinkSpec, postgresSinkSpec }

/** Every sink type, in one explicit list. */
export const sinkSpecs = [fileSinkSpec, centralSinkSpec, postgresSinkSpec, mysqlSinkSpec] as const
