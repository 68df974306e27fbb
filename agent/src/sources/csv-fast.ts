/**
 * A fast path for the CSV most files hold: a one-character ASCII delimiter and quote, quotes
 * escaped by doubling them, LF or CRLF line ends. It gives exactly the records csv-parse gives
 * with the options the csv source passes it (relax_column_count, relax_quotes, skip_empty_lines,
 * skip_records_with_error), or undefined when the text holds anything whose handling it does not
 * copy: a quote inside an unquoted field, text after a closing quote, an unclosed quote, a CR
 * that does not end a CRLF line, or line ends of another kind than the chunk's first. The caller
 * then parses the chunk with csv-parse.
 */

const LF = 10
const CR = 13

/**
 * The length of the line end at `c` (then `next`): 1 for LF, 2 for CRLF, or 0 for anything else
 * and for a kind other than the one seen before (`seen`, 0 when none was).
 */
export function lineEndLength(c: number, next: number, seen: number): number {
  const length = c === LF ? 1 : c === CR && next === LF ? 2 : 0
  return seen !== 0 && length !== seen ? 0 : length
}

/** Whether parseSimpleCsv can handle these options at all. */
export function simpleCsvOptions(delimiter: string, quote: string, escapeChar: string): boolean {
  const d = delimiter.charCodeAt(0)
  const q = quote.charCodeAt(0)
  return (
    delimiter.length === 1 &&
    quote.length === 1 &&
    escapeChar === quote &&
    d < 0x80 &&
    q < 0x80 &&
    d !== q &&
    d !== LF &&
    d !== CR &&
    q !== LF &&
    q !== CR
  )
}

let scratch = Buffer.allocUnsafe(4096)

/**
 * text[from, to) with each doubled quote made one. Copied char by char into a byte buffer and read
 * back as latin1: about ten times cheaper than slice + replaceAll (measured: 0.3 µs against 3 µs
 * for a 40-character JSON cell), whose result also costs the batch encoder more to join. A field
 * with a character over U+00FF, which latin1 cannot hold, takes replaceAll.
 */
function unescapeQuotes(text: string, from: number, to: number, q: number): string {
  if (to - from > scratch.length) scratch = Buffer.allocUnsafe(2 * (to - from))
  let w = 0
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i)
    if (c > 0xff) {
      const quote = String.fromCharCode(q)
      return text.slice(from, to).replaceAll(quote + quote, quote)
    }
    scratch[w++] = c
    if (c === q) i++
  }
  return scratch.toString('latin1', 0, w)
}

/** The records of `text` (see the module comment), or undefined to leave it to csv-parse. */
export function parseSimpleCsv(text: string, delimiter: string, quote: string): string[][] | undefined {
  const d = delimiter.charCodeAt(0)
  const q = quote.charCodeAt(0)
  const n = text.length
  const records: string[][] = []
  // The line end csv-parse settles on: the first one outside quotes (its length). 0: none seen yet.
  let lineEnd = 0
  let record: string[] = []
  let pos = 0
  for (;;) {
    // At the start of a field.
    if (pos >= n) {
      // A delimiter just before the end leaves an empty last field.
      if (record.length > 0) {
        record.push('')
        records.push(record)
      }
      return records
    }
    let field: string
    let quoted = false
    let c = text.charCodeAt(pos)
    if (c === q) {
      // A quoted field ends at a quote that is not followed by another (a doubled quote is one quote).
      let from = pos + 1
      let escaped = false
      let close: number
      for (;;) {
        close = text.indexOf(quote, from)
        if (close < 0) return undefined
        if (text.charCodeAt(close + 1) !== q) break
        escaped = true
        from = close + 2
      }
      field = escaped ? unescapeQuotes(text, pos + 1, close, q) : text.slice(pos + 1, close)
      quoted = true
      pos = close + 1
    } else {
      let i = pos
      while (i < n) {
        c = text.charCodeAt(i)
        if (c === d || c === LF || c === CR) break
        // A quote inside a field is kept as text by csv-parse (relax_quotes): not copied here.
        if (c === q) return undefined
        i++
      }
      field = text.slice(pos, i)
      pos = i
    }
    if (pos >= n) {
      // The last record, without a line end.
      if (quoted || record.length > 0 || field !== '') {
        record.push(field)
        records.push(record)
      }
      return records
    }
    c = text.charCodeAt(pos)
    if (c === d) {
      record.push(field)
      pos++
      continue
    }
    const ending = lineEndLength(c, text.charCodeAt(pos + 1), lineEnd)
    // Text after a closing quote, a CR on its own, or another kind of line end.
    if (ending === 0) return undefined
    lineEnd = ending
    pos += ending
    // skip_empty_lines: a line without a single character makes no record.
    if (!quoted && record.length === 0 && field === '') continue
    record.push(field)
    records.push(record)
    record = []
  }
}
