import type { ColumnTypeName } from '@outpost/shared'
import { formatValue, type RowBatch, type Value } from '@outpost/shared/batch'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeCsvBytes } from './csv-encode.js'

/** The text encoder the file sink used before writing bytes directly: the reference. */
function referenceCsv(batch: RowBatch): Uint8Array {
  const csvField = (text: string | undefined) =>
    text === undefined
      ? ''
      : text === ''
        ? '""'
        : /[",\n\r]/.test(text)
          ? `"${text.replaceAll('"', '""')}"`
          : text
  const types = batch.columns.map((c) => c.type)
  const plain = types.map((t) => t === 'int' || t === 'float' || t === 'bool' || t === 'date')
  let out = `${batch.columns.map((c) => csvField(c.name)).join(',')}\n`
  for (const row of batch.rows) {
    let line = ''
    for (let i = 0; i < row.length; i++) {
      if (i > 0) line += ','
      const text = formatValue(row[i] as Value, types[i]!)
      line += plain[i] ? (text ?? '') : csvField(text)
    }
    out += `${line}\n`
  }
  return new TextEncoder().encode(out)
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('a', '"', ',', '\n', '\r', 'é', '🚀', '\uD800', ' ') }),
)
/** Microseconds: safe integers (years 1685–2255), and bigints beyond. */
const micros = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.maxSafeInteger(),
  fc.integer({ min: 1_500_000_000_000_000, max: 1_800_000_000_000_000 }),
  fc.bigInt({ min: -8_000_000_000_000_000_000n, max: 8_000_000_000_000_000_000n }),
)
const cells: Record<ColumnTypeName, fc.Arbitrary<Value>> = {
  string: text,
  decimal: fc.oneof(text, fc.double({ noNaN: true }).map(String)),
  json: text,
  int: fc.oneof(fc.maxSafeInteger(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
  float: fc.double(),
  bool: fc.boolean(),
  timestamp: micros,
  date: fc.oneof(
    fc.integer({ min: -800_000, max: 3_000_000 }),
    fc.integer({ min: -100_000_000, max: 100_000_000 }),
  ),
  bytes: fc.uint8Array({ maxLength: 12 }),
}

describe('encodeCsvBytes', () => {
  it('writes the bytes the text encoder wrote, for every column type', () => {
    const types = Object.keys(cells) as ColumnTypeName[]
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...types), { minLength: 1, maxLength: 6 }).chain((columnTypes) =>
          fc.record({
            names: fc.array(text, { minLength: columnTypes.length, maxLength: columnTypes.length }),
            types: fc.constant(columnTypes),
            rows: fc.array(fc.tuple(...columnTypes.map((t) => fc.option(cells[t], { freq: 5 }))), {
              maxLength: 20,
            }),
          }),
        ),
        ({ names, types, rows }) => {
          const batch: RowBatch = { columns: types.map((type, i) => ({ name: names[i]!, type })), rows }
          expect(Buffer.from(encodeCsvBytes(batch))).toEqual(Buffer.from(referenceCsv(batch)))
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('writes every millisecond and microsecond of a day boundary and leap days alike', () => {
    const batch: RowBatch = {
      columns: [
        { name: 'at', type: 'timestamp' },
        { name: 'day', type: 'date' },
      ],
      rows: [],
    }
    for (const day of [-719_528, -141_428, -1, 0, 11_016, 11_017, 19_417, 2_932_896, 2_932_897]) {
      const ms = day * 86_400_000
      for (const us of [ms * 1000 - 1, ms * 1000, ms * 1000 + 1, ms * 1000 + 1000, ms * 1000 + 999_999])
        batch.rows.push([Number.isSafeInteger(us) ? us : BigInt(ms) * 1000n, day])
    }
    expect(Buffer.from(encodeCsvBytes(batch)).toString()).toBe(Buffer.from(referenceCsv(batch)).toString())
  })
})
