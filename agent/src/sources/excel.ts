/** Rows of one sheet of .xlsx workbooks; the first row holds the column names. */
import { excelSourceSpec, SourceError } from '@outpost/shared'
import type * as z from 'zod'
import { headerNames } from './csv.js'
import { checkFiles, fileReader } from './files.js'
import { rowsFromObjects } from './infer.js'
import { defineSource } from './types.js'

type ExcelOptions = z.output<typeof excelSourceSpec.schema>

export const excelSource = defineSource<ExcelOptions>({
  spec: excelSourceSpec,
  open(options, context) {
    return fileReader({ path: options.path }, context)
  },
  check: (options, context) => checkFiles(options.path, context),
  async decode(options, bytes) {
    // Loaded on first use: it took ~35 ms of every pool thread's start-up.
    const { readSheet } = await import('read-excel-file/node')
    let sheet: unknown[][]
    try {
      sheet = (await readSheet(
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        options.sheet,
      )) as unknown[][]
    } catch (error) {
      const e = error as Error
      throw new SourceError(
        e.name === 'SheetNotFoundError'
          ? `sheet ${JSON.stringify(options.sheet)} not found: ${e.message}`
          : `cannot read the workbook: ${e.message}`,
        false,
      )
    }
    const [header = [], ...data] = sheet
    const names = headerNames(header.map((h) => (h === null || h === undefined ? '' : String(h))))
    return rowsFromObjects(
      data.map((row) => Object.fromEntries(names.map((name, i) => [name, row[i] ?? null]))),
    )
  },
})
