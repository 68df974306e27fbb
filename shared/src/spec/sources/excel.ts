import * as z from 'zod'
import { defineConnectorSpec } from '../component.js'
import { filePath } from './files.js'

export const excelSourceSpec = defineConnectorSpec({
  type: 'excel',
  summary: 'Rows of a sheet of .xlsx workbooks; the first row holds the column names.',
  options: {
    path: filePath,
    sheet: z
      .union([z.string().min(1), z.number().int().min(1)])
      .default(1)
      .describe('The sheet, by name or by position (1 is the first).'),
  },
})
