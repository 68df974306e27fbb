/** One JSON object per line, in files read once and resumed mid-file. */
import { isUtf8 } from 'node:buffer'
import { ndjsonSourceSpec } from '@outpost/shared'
import type * as z from 'zod'
import { checkFiles, fileReader, lastNewline } from './files.js'
import { rowsFromObjects, Unreadable } from './infer.js'
import { parseJson } from './json-text.js'
import { defineSource } from './types.js'

type NdjsonOptions = z.output<typeof ndjsonSourceSpec.schema>

export const ndjsonSource = defineSource<NdjsonOptions>({
  spec: ndjsonSourceSpec,
  open(options, context) {
    return fileReader(
      { path: options.path, compression: options.compression, boundary: lastNewline },
      context,
    )
  },
  check: (options, context) => checkFiles(options.path, context),
  decode(options, bytes, decodeState) {
    let text = new TextDecoder(options.encoding === 'latin1' ? 'latin1' : 'utf-8').decode(bytes)
    if ((decodeState as { first?: boolean }).first && text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    const lines = text.split('\n').filter((line) => line.trim() !== '')
    // Bytes that are not UTF-8 decode to U+FFFD; in such a chunk, lines holding one are quarantined.
    const badUtf8 = options.encoding !== 'latin1' && !isUtf8(bytes)
    return rowsFromObjects(
      lines.map((line) => {
        if (badUtf8 && line.includes('\uFFFD'))
          return new Unreadable('invalid UTF-8 (set encoding: latin1 if the file is not UTF-8)', line)
        try {
          const value = parseJson(line)
          if (value === null || typeof value !== 'object' || Array.isArray(value))
            return new Unreadable(
              `expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`,
              line,
            )
          return value as Record<string, unknown>
        } catch (error) {
          return new Unreadable(`invalid JSON: ${(error as Error).message}`, line)
        }
      }),
    )
  },
})
