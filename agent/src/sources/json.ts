/** A JSON document holding an array of objects (the document itself, or the array at records_path). */
import { jsonSourceSpec, SourceError } from '@outpost/shared'
import type * as z from 'zod'
import { checkFiles, fileReader } from './files.js'
import { recordOrUnreadable, rowsFromObjects } from './infer.js'
import { parseJson } from './json-text.js'
import { defineSource } from './types.js'

type JsonOptions = z.output<typeof jsonSourceSpec.schema>

export const jsonSource = defineSource<JsonOptions>({
  spec: jsonSourceSpec,
  open(options, context) {
    return fileReader({ path: options.path, compression: options.compression }, context)
  },
  check: (options, context) => checkFiles(options.path, context),
  decode(options, bytes) {
    let text = new TextDecoder().decode(bytes)
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    let document: unknown
    try {
      document = parseJson(text)
    } catch (error) {
      throw new SourceError(`invalid JSON document: ${(error as Error).message}`, false)
    }
    let records: unknown = document
    for (const key of options.records_path?.split('.') ?? []) {
      if (records === null || typeof records !== 'object' || Array.isArray(records) || !(key in records)) {
        throw new SourceError(
          `records_path ${options.records_path}: there is no "${key}" in the document`,
          false,
        )
      }
      records = (records as Record<string, unknown>)[key]
    }
    if (!Array.isArray(records)) {
      throw new SourceError(
        `${options.records_path ? `records_path ${options.records_path}` : 'the document'} is ${records === null ? 'null' : typeof records}, not an array of records`,
        false,
      )
    }
    return rowsFromObjects(records.map(recordOrUnreadable))
  },
})
