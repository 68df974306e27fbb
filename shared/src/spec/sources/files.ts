import * as z from 'zod'

/** Options every file source shares. */
export const filePath = z
  .string()
  .min(1)
  .describe(
    'A file or a glob such as /data/drop/*.csv; relative paths resolve from the agent working directory. Each file is read once.',
  )

export const compression = z
  .enum(['auto', 'none', 'gzip'])
  .default('auto')
  .describe('auto: gzip when the file name ends in .gz.')

export const encoding = z
  .enum(['utf-8', 'latin1'])
  .default('utf-8')
  .describe('Text encoding of the files; a UTF-8 byte order mark is skipped.')
