// CSV bytes straight to COPY text must load exactly what the usual path loads: decode, the row
// limits, then the postgres sink's encoding. Whenever that path would quarantine a row, the
// direct one must step aside.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fuzzBudget, fuzzTimeout } from '../../../test/helpers/fuzz.js'
import { copyTextPayload, encodePgPayload } from '../sinks/postgres.js'
import type { Rejection } from '../transforms/types.js'
import { DEFAULT_ROW_LIMITS, type RowLimits, withinLimits } from '../workers/row-limits.js'
import { csvSource } from './csv.js'
import type { DecodedRows } from './types.js'

const NAMES = ['a', 'b', 'c']
const baseOptions = csvSource.spec.schema.parse({ type: 'csv', path: 'x.csv' }) as Parameters<
  typeof csvSource.decode
>[0]

/** What the usual path makes of a chunk: the sink's payload, or the rows it would quarantine. */
function usual(
  input: Buffer,
  limits: RowLimits,
  options = baseOptions,
): { payload?: Uint8Array; rows: number; rejections: Rejection[] } {
  const decoded = csvSource.decode(options, input, { first: false, columns: NAMES }) as DecodedRows
  const rejections = [...decoded.rejections]
  const frame = withinLimits(decoded, limits, { reject: (r) => rejections.push(r), filtered: () => {} })
  return {
    rows: frame.rows.length,
    rejections,
    ...(frame.rows.length > 0 ? { payload: encodePgPayload(frame) } : {}),
  }
}

function direct(input: Buffer, limits: RowLimits, options = baseOptions) {
  const copied = csvSource.copyText?.(options, input, { first: false, columns: NAMES }, limits)
  return copied && { ...copied, payload: copyTextPayload(copied.columns, copied.copy) }
}

const field = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('x', 'yz', '', ' ', 'é', '🚀', '42', 'N') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('\\', '\t', '\\N', 'a,b', 'say "hi"', 'two\nlines', 'cr\r\nlf', '\r'),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
)

/** A field as CSV: quoted when it must be (or at random), quotes doubled. */
function csvField(value: string, forceQuote: boolean): string {
  return forceQuote || /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

describe('CSV straight to COPY text', () => {
  it(
    'gives byte for byte the payload of decoding and encoding well-formed chunks, and steps aside for ragged rows',
    () => {
      let taken = 0
      let runs = 0
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              values: fc.array(field, { minLength: 1, maxLength: 4 }),
              quoted: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
              blankBefore: fc.boolean(),
            }),
            { minLength: 1, maxLength: 12 },
          ),
          fc.boolean(),
          fc.boolean(),
          fc.boolean(),
          (records, crlf, trailing, ragged) => {
            const eol = crlf ? '\r\n' : '\n'
            const lines = records.map((r) => {
              // Most records have the columns' width; some runs keep the width they were drawn with.
              const values = ragged ? r.values : [...r.values, '', '', ''].slice(0, NAMES.length)
              const line = values.map((v, i) => csvField(v, r.quoted[i] ?? false)).join(',')
              return r.blankBefore ? `${eol}${line}` : line
            })
            const input = Buffer.from(lines.join(eol) + (trailing ? eol : ''))
            const expected = usual(input, DEFAULT_ROW_LIMITS)
            const got = direct(input, DEFAULT_ROW_LIMITS)
            runs++
            if (!got) {
              // It only steps aside when the usual path has a row to quarantine (or none to load).
              expect(expected.rejections.length > 0 || expected.rows === 0).toBe(true)
              return
            }
            taken++
            expect(expected.rejections).toEqual([])
            expect(got.records).toBe(expected.rows)
            expect(Buffer.from(got.payload).toString()).toBe(Buffer.from(expected.payload!).toString())
          },
        ),
        fuzzBudget(3000),
      )
      expect(taken / runs).toBeGreaterThan(0.3)
    },
    fuzzTimeout(),
  )

  it(
    'never loads a chunk the usual path would load differently, whatever its bytes',
    () => {
      const part = fc.constantFrom('a', ',', '"', '""', '\n', '\r', '\r\n', '\t', '\\', 'é', '', ' ')
      const limits = fc.constantFrom(DEFAULT_ROW_LIMITS, { maxRowBytes: 12, maxFieldBytes: 5, maxColumns: 3 })
      fc.assert(
        fc.property(
          fc.array(part, { maxLength: 40 }),
          limits,
          fc.constantFrom(',', ';'),
          (parts, limit, delimiter) => {
            const options = { ...baseOptions, delimiter }
            const input = Buffer.from(parts.map((p) => (p === ',' ? delimiter : p)).join(''))
            const got = direct(input, limit, options)
            if (!got) return
            const expected = usual(input, limit, options)
            expect(expected.rejections).toEqual([])
            expect(got.records).toBe(expected.rows)
            expect(Buffer.from(got.payload).toString()).toBe(Buffer.from(expected.payload!).toString())
          },
        ),
        fuzzBudget(5000),
      )
    },
    fuzzTimeout(),
  )

  it('leaves to decode what decode must see: a header chunk, invalid UTF-8, latin1, rows over a limit', () => {
    const clean = Buffer.from('1,"x ""y""",\n2,é,z\n')
    expect(direct(clean, DEFAULT_ROW_LIMITS)?.records).toBe(2)
    expect(Buffer.from(direct(clean, DEFAULT_ROW_LIMITS)!.copy).toString()).toBe('1\tx "y"\t\\N\n2\té\tz\n')
    const first = csvSource.copyText?.(baseOptions, clean, { first: true }, DEFAULT_ROW_LIMITS)
    expect(first).toBeUndefined()
    expect(direct(Buffer.from([0x31, 0x2c, 0xff, 0x2c, 0x33, 0x0a]), DEFAULT_ROW_LIMITS)).toBeUndefined()
    expect(direct(clean, DEFAULT_ROW_LIMITS, { ...baseOptions, encoding: 'latin1' })).toBeUndefined()
    const tight = { ...DEFAULT_ROW_LIMITS, maxFieldBytes: 4 }
    expect(usual(clean, tight).rejections[0]?.rule).toBe('max_field_bytes')
    expect(direct(clean, tight)).toBeUndefined()
    expect(direct(Buffer.from('1,2\n'), DEFAULT_ROW_LIMITS)).toBeUndefined()
  })
})
