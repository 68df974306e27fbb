/**
 * CSV bytes straight to PostgreSQL COPY text, for a pipeline with no transforms whose sinks take
 * COPY text (the `postgres` sink): no string is made for any field. It gives byte for byte the
 * rows the usual path gives (csv-fast.ts's records, empty fields as null, each row then written by
 * copyText), or undefined whenever that path would do anything but pass every record on: a
 * record with another number of fields than the columns (quarantined there), a row over a row
 * limit, or text csv-fast.ts leaves to csv-parse. The caller then takes the usual path, so what
 * is loaded and what is quarantined never depend on which path ran.
 *
 * The input must be valid UTF-8 (the caller checks): the delimiter, the quote, CR and LF are
 * ASCII, and no byte of a multi-byte UTF-8 character is, so scanning bytes finds what scanning
 * the decoded text finds.
 */
import type { RowLimits } from '../workers/row-limits.js'
import { lineEndLength } from './csv-fast.js'

const LF = 10
const CR = 13
const TAB = 9
const BACKSLASH = 92
const N = 78

/** The letter after a backslash that stands for a byte in COPY text (0: the byte goes as it is). */
const ESCAPE = new Uint8Array(256)
ESCAPE[BACKSLASH] = BACKSLASH
ESCAPE[TAB] = 116 // t
ESCAPE[LF] = 110 // n
ESCAPE[CR] = 114 // r

export interface CopyTextChunk {
  /** The chunk's rows as COPY text, one line each. */
  copy: Uint8Array
  /** Records read (every one of them a row of the copy). */
  records: number
}

/**
 * The records of a chunk that starts at a record boundary (not a file's first chunk: no byte
 * order mark, no header) as COPY text lines of `width` fields, or undefined (see above).
 */
export function csvToCopyText(
  input: Uint8Array,
  delimiter: number,
  quote: number,
  width: number,
  limits: RowLimits,
): CopyTextChunk | undefined {
  if (width === 0 || width > limits.maxColumns) return undefined
  // A quote that COPY text would have to escape (a backslash or a tab) is not worth a path.
  if (quote === BACKSLASH || quote === TAB || quote >= 0x80 || delimiter >= 0x80) return undefined
  const n = input.length
  // Each byte becomes at most two (an escape); an empty field, three with its separator.
  const out = Buffer.allocUnsafe(3 * n + 8)
  let o = 0
  let pos = 0
  let records = 0
  // The length of the line end the chunk settles on (see csv-fast.ts). 0: none seen yet.
  let lineEnd = 0
  // The record being written: where its line starts, its fields so far, its bytes as the limits count them.
  let lineStart = 0
  let fields = 0
  let rowBytes = 0
  for (;;) {
    // At the start of a field. At the end of the input it is an empty one: the last of a record
    // after a delimiter, or an empty line that makes no record (below).
    if (fields > 0) out[o++] = TAB
    const fieldStart = o
    // Bytes written beyond the field's own: one for each escape.
    let extra = 0
    let c: number
    // A quoted field ends at a quote not followed by another (a doubled quote is one quote).
    const quoted = pos < n && input[pos] === quote
    let i = quoted ? pos + 1 : pos
    for (; ; i++) {
      if (i >= n) {
        if (quoted) return undefined
        break
      }
      c = input[i]!
      if (quoted) {
        if (c === quote) {
          if (input[i + 1] !== quote) break
          i++
        }
      } else {
        if (c === delimiter || c === LF || c === CR) break
        // A quote inside an unquoted field: csv-parse's business (see csv-fast.ts).
        if (c === quote) return undefined
      }
      const e = ESCAPE[c]!
      if (e !== 0) {
        out[o++] = BACKSLASH
        extra++
        c = e
      }
      out[o++] = c
    }
    pos = quoted ? i + 1 : i
    // Empty fields are nulls; the bytes of the others (as UTF-8 values) count for the limits.
    const empty = o === fieldStart
    if (empty) {
      out[o++] = BACKSLASH
      out[o++] = N
    } else {
      const size = o - fieldStart - extra
      if (size > limits.maxFieldBytes) return undefined
      rowBytes += size
    }
    fields++
    // 0: the last record, without a line end.
    let ending = 0
    if (pos < n) {
      c = input[pos]!
      if (c === delimiter) {
        pos++
        continue
      }
      ending = lineEndLength(c, input[pos + 1] ?? 0, lineEnd)
      // Text after a closing quote, a CR on its own, or another kind of line end.
      if (ending === 0) return undefined
      lineEnd = ending
    }
    pos += ending
    if (!quoted && fields === 1 && empty) {
      // skip_empty_lines: a line without a single character makes no record.
      o = lineStart
      fields = 0
      rowBytes = 0
      if (ending === 0) break
      continue
    }
    if (fields !== width || rowBytes > limits.maxRowBytes) return undefined
    out[o++] = LF
    records++
    lineStart = o
    fields = 0
    rowBytes = 0
    if (ending === 0) break
  }
  return { copy: out.subarray(0, o), records }
}
