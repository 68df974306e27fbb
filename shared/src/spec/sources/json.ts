import * as z from 'zod'
import { defineConnectorSpec } from '../component.js'
import { compression, filePath } from './files.js'

export const jsonSourceSpec = defineConnectorSpec({
  type: 'json',
  summary: 'A JSON document holding an array of objects: the whole document, or the array at records_path.',
  options: {
    path: filePath,
    records_path: z
      .string()
      .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'expected a dotted path such as data.items')
      .optional()
      .describe('Where the array is, e.g. data.items; default: the document is the array.'),
    compression,
  },
})
