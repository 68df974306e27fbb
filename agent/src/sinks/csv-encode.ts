/**
 * CSV output written straight into bytes. Building the text of a batch and then encoding it cost
 * more than everything else the file sink does: here ASCII text is copied byte by byte, only
 * cells with other characters go through TextEncoder, and timestamps and dates are written as
 * digits without a Date. The bytes are those of TextEncoder over the text `formatValue` gives.
 */
import {
  formatDateDays,
  formatTimestampMicros,
  formatValue,
  type RowBatch,
  type Value,
} from '@outpost/shared/batch'

const encoder = new TextEncoder()
const MS_PER_DAY = 86_400_000
/** Days from 1970-01-01 to 0000-01-01 and to 10000-01-01: the dates toISOString writes with four digits. */
const FIRST_DAY = -719_528
const END_DAY = 2_932_897

const QUOTE = 34
const COMMA = 44
const NEWLINE = 10
const CR = 13

function needsQuotes(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE || c === COMMA || c === NEWLINE || c === CR) return true
  }
  return false
}

/** A growing byte array that text is appended to. */
class ByteWriter {
  bytes = new Uint8Array(1 << 20)
  length = 0

  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return
    let size = this.bytes.length * 2
    while (size < this.length + n) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
  }

  byte(b: number): void {
    this.reserve(1)
    this.bytes[this.length++] = b
  }

  /** Text that is known to be ASCII (numbers, booleans, ISO dates). */
  ascii(text: string): void {
    this.reserve(text.length)
    const { bytes } = this
    let at = this.length
    for (let i = 0; i < text.length; i++) bytes[at++] = text.charCodeAt(i)
    this.length = at
  }

  /** Any text, as UTF-8. */
  text(text: string): void {
    this.reserve(text.length)
    const { bytes } = this
    const start = this.length
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0x80) {
        this.length = start
        this.utf8(text)
        return
      }
      bytes[start + i] = c
    }
    this.length = start + text.length
  }

  utf8(text: string): void {
    this.reserve(text.length * 3)
    this.length += encoder.encodeInto(text, this.bytes.subarray(this.length)).written
  }

  /** A text cell: quoted when it holds a quote, comma or line break (and `""` when empty). */
  field(text: string): void {
    if (text === '') {
      this.reserve(2)
      this.bytes[this.length++] = QUOTE
      this.bytes[this.length++] = QUOTE
      return
    }
    this.reserve(text.length)
    const { bytes } = this
    const start = this.length
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0x80) {
        this.length = start
        this.utf8(needsQuotes(text) ? `"${text.replaceAll('"', '""')}"` : text)
        return
      }
      if (c === QUOTE || c === COMMA || c === NEWLINE || c === CR) {
        this.length = start
        this.quoted(text)
        return
      }
      bytes[start + i] = c
    }
    this.length = start + text.length
  }

  /** ASCII text in quotes, its quotes doubled (other text goes through the encoder). */
  private quoted(text: string): void {
    this.reserve(text.length * 2 + 2)
    const { bytes } = this
    const start = this.length
    let at = start
    bytes[at++] = QUOTE
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0x80) {
        this.length = start
        this.utf8(`"${text.replaceAll('"', '""')}"`)
        return
      }
      if (c === QUOTE) bytes[at++] = QUOTE
      bytes[at++] = c
    }
    bytes[at++] = QUOTE
    this.length = at
  }

  /** `n` as exactly `width` digits (0 ≤ n < 10^width, width ≤ 4). */
  digits(n: number, width: number): void {
    const { bytes } = this
    for (let i = this.length + width - 1; i >= this.length; i--) {
      const rest = (n / 10) | 0
      bytes[i] = 48 + n - rest * 10
      n = rest
    }
    this.length += width
  }

  /** `YYYY-MM-DD` for a day in years 0–9999 (days since 1970-01-01); the civil-from-days algorithm. */
  date(days: number): void {
    const z = days + 719_468
    const era = Math.floor(z / 146_097)
    const doe = z - era * 146_097
    const yoe = Math.floor(
      (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
    )
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
    const mp = Math.floor((5 * doy + 2) / 153)
    const day = doy - Math.floor((153 * mp + 2) / 5) + 1
    const month = mp < 10 ? mp + 3 : mp - 9
    const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    this.reserve(10)
    this.digits(year, 4)
    this.bytes[this.length++] = 45
    this.digits(month, 2)
    this.bytes[this.length++] = 45
    this.digits(day, 2)
  }

  /** What formatTimestampMicros writes: `2024-05-01T12:30:00.123456Z`, fractions only when not zero. */
  timestamp(micros: number | bigint): void {
    if (typeof micros !== 'number' || !Number.isSafeInteger(micros)) {
      this.ascii(formatTimestampMicros(micros))
      return
    }
    const ms = Math.floor(micros / 1000)
    const days = Math.floor(ms / MS_PER_DAY)
    // Safe integers of microseconds are years 1685 to 2255, four digits for toISOString.
    let rest = ms - days * MS_PER_DAY
    const milli = rest % 1000
    rest = (rest - milli) / 1000
    const second = rest % 60
    rest = (rest - second) / 60
    const minute = rest % 60
    const hour = (rest - minute) / 60
    const extra = micros - ms * 1000
    this.date(days)
    this.reserve(18)
    this.bytes[this.length++] = 84 // T
    this.digits(hour, 2)
    this.bytes[this.length++] = 58
    this.digits(minute, 2)
    this.bytes[this.length++] = 58
    this.digits(second, 2)
    if (milli !== 0 || extra !== 0) {
      this.bytes[this.length++] = 46
      this.digits(milli, 3)
      if (extra !== 0) this.digits(extra, 3)
    }
    this.bytes[this.length++] = 90 // Z
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length)
  }
}

/** Writes one non-null cell of a column type. */
type CellWriter = (out: ByteWriter, value: Exclude<Value, null>) => void

function cellWriter(type: RowBatch['columns'][number]['type']): CellWriter {
  switch (type) {
    case 'int':
    case 'float':
      // Numbers, NaN and Infinity: never quoted.
      return (out, v) => out.ascii(String(v))
    case 'bool':
      return (out, v) => out.ascii(v ? 'true' : 'false')
    case 'date':
      return (out, v) => {
        const days = v as number
        if (Number.isInteger(days) && days >= FIRST_DAY && days < END_DAY) out.date(days)
        else out.ascii(formatDateDays(days))
      }
    case 'timestamp':
      return (out, v) => out.timestamp(v as number | bigint)
    case 'bytes':
      return (out, v) => out.field(formatValue(v, type) ?? '')
    default:
      return (out, v) => out.field(typeof v === 'string' ? v : String(v))
  }
}

/** A cell that is not a value of its column (undefined, or past the columns): as formatValue writes it. */
function oddCell(out: ByteWriter, value: Value, type: RowBatch['columns'][number]['type'] | undefined): void {
  const text = formatValue(value, type as RowBatch['columns'][number]['type'])
  if (type === 'int' || type === 'float' || type === 'bool' || type === 'date') out.text(text ?? '')
  else if (text !== undefined) out.field(text)
}

/** One writer per thread, reused: its bytes grow to the size of a batch once, not for every batch. */
let shared: ByteWriter | undefined

/** A batch as CSV with a header line, as UTF-8 bytes; null cells are empty, empty text is `""`. */
export function encodeCsvBytes(batch: RowBatch): Uint8Array {
  shared ??= new ByteWriter()
  const out = shared
  out.length = 0
  const writers = batch.columns.map((c) => cellWriter(c.type))
  batch.columns.forEach((c, i) => {
    if (i > 0) out.byte(COMMA)
    out.field(c.name)
  })
  out.byte(NEWLINE)
  const width = writers.length
  for (const row of batch.rows) {
    for (let i = 0; i < row.length; i++) {
      if (i > 0) out.byte(COMMA)
      const v = row[i] as Value
      if (v === null) continue
      if (v !== undefined && i < width) (writers[i] as CellWriter)(out, v)
      else oddCell(out, v, batch.columns[i]?.type)
    }
    out.byte(NEWLINE)
  }
  return out.result()
}
