import * as z from 'zod'
import { defineConnectorSpec } from '../component.js'
import { compression, encoding, filePath } from './files.js'

const singleChar = (what: string) => z.string().length(1, `${what} must be exactly one character`)

export const csvSourceSpec = defineConnectorSpec({
  type: 'csv',
  summary:
    'Rows of CSV files: one file or a glob; each file is read once and resumed mid-file after a restart.',
  options: {
    path: filePath,
    header: z.boolean().default(true).describe('The first record holds the column names.'),
    columns: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Column names; required when header is false, and override the header when given.'),
    delimiter: singleChar('delimiter').default(',').describe('Field delimiter.'),
    quote: singleChar('quote').default('"').describe('Quote character.'),
    escape: singleChar('escape').default('"').describe('Escape character inside quoted fields.'),
    encoding,
    compression,
  },
  check(value, ctx) {
    if (!value.header && !value.columns) {
      ctx.addIssue({ code: 'custom', path: ['columns'], message: 'required when header is false' })
    }
  },
})
