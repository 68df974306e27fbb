import * as z from 'zod'
import { defineConnectorSpec } from '../component.js'

export const fileSinkSpec = defineConnectorSpec({
  type: 'file',
  summary: 'Files in a local directory, one per batch, written atomically (temporary file, then rename).',
  options: {
    path: z.string().min(1).describe('Directory the files go into; created when missing.'),
    format: z.enum(['csv', 'ndjson', 'parquet']).default('csv').describe('File format.'),
    file_name: z
      .string()
      .regex(/^[^/\\]*(\/[^/\\]+)*$/, 'file_name must be a relative path')
      .refine((t) => !t.split('/').includes('..'), 'file_name must not contain ".."')
      .refine(
        (t) => t.includes('{seq}') && t.includes('{run}'),
        'file_name must contain {run} and {seq} so every batch gets its own file',
      )
      .default('{pipeline}/{date}/part-{run}-{seq}.{ext}')
      .describe(
        'Path under `path` for each batch; placeholders {pipeline}, {date}, {run}, {seq}, {agent}, {ext}.',
      ),
  },
})
