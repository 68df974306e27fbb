import { parse } from 'csv-parse/sync'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { csvSource } from './csv.js'
import { parseSimpleCsv, simpleCsvOptions } from './csv-fast.js'
import type { DecodedRows } from './types.js'

/** csv-parse with the options the csv source passes it: the reference. */
function reference(input: Buffer, delimiter: string, quote: string, bom = false): string[][] {
  return parse(input, {
    delimiter,
    quote,
    escape: quote,
    bom,
    encoding: 'utf8',
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
  }) as string[][]
}

describe('parseSimpleCsv', () => {
  it('gives the records csv-parse gives, or leaves the text to it', () => {
    let handled = 0
    let runs = 0
    fc.assert(
      fc.property(
        fc.constantFrom([',', '"'], [';', '"'], ['\t', "'"], ['|', '"']),
        fc.array(
          fc.oneof(
            { weight: 6, arbitrary: fc.constantFrom('a', 'bc', ' ', 'é', '🚀', '') },
            { weight: 3, arbitrary: fc.constantFrom('DELIM', 'QUOTE', 'QQ', '\n', '\r\n') },
            { weight: 1, arbitrary: fc.constantFrom('\r', '\uFEFF', ',', ';', '"') },
          ),
          { maxLength: 40 },
        ),
        ([delimiter, quote], parts) => {
          const text = parts
            .map((p) => (p === 'DELIM' ? delimiter : p === 'QUOTE' ? quote : p === 'QQ' ? quote + quote : p))
            .join('')
          runs++
          const fast = parseSimpleCsv(text, delimiter, quote)
          if (fast === undefined) return
          handled++
          expect(fast).toEqual(reference(Buffer.from(text), delimiter, quote))
        },
      ),
      { numRuns: 20_000 },
    )
    // The property means little unless the fast path takes a fair share of the cases.
    expect(handled / runs).toBeGreaterThan(0.2)
  })

  it('handles well-formed files of quoted and unquoted fields, LF or CRLF', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' })), { minLength: 1, maxLength: 5 }),
          { maxLength: 20 },
        ),
        fc.boolean(),
        fc.boolean(),
        (records, crlf, trailing) => {
          const field = (f: string) => (/[",\r\n]/.test(f) || f === '' ? `"${f.replaceAll('"', '""')}"` : f)
          const eol = crlf ? '\r\n' : '\n'
          const text = records.map((r) => r.map(field).join(',')).join(eol) + (trailing ? eol : '')
          const fast = parseSimpleCsv(text, ',', '"')
          expect(fast).toEqual(reference(Buffer.from(text), ',', '"'))
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('is used only with one-character ASCII delimiter and quote, and quotes doubled', () => {
    expect(simpleCsvOptions(',', '"', '"')).toBe(true)
    expect(simpleCsvOptions(',', '"', '\\')).toBe(false)
    expect(simpleCsvOptions('§', '"', '"')).toBe(false)
    expect(simpleCsvOptions('"', '"', '"')).toBe(false)
  })
})

describe('csv decode', () => {
  const options = csvSource.spec.schema.parse({ type: 'csv', path: 'x.csv' }) as Parameters<
    typeof csvSource.decode
  >[0]
  const decode = (text: string | Buffer, first = true, extra: Record<string, unknown> = {}) =>
    csvSource.decode({ ...options, ...extra }, typeof text === 'string' ? Buffer.from(text) : text, {
      first,
    }) as DecodedRows

  it('strips a UTF-8 byte order mark from the first chunk only, as csv-parse does', () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a,b\n1,2\n')])
    expect(decode(withBom)).toMatchObject({ columns: [{ name: 'a' }, { name: 'b' }], rows: [['1', '2']] })
    expect(decode(withBom, true, { encoding: 'latin1' })).toMatchObject({
      columns: [{ name: 'a' }, { name: 'b' }],
    })
    expect(reference(withBom, ',', '"', true)[0]).toEqual(['a', 'b'])
  })

  it('turns empty fields into nulls and quarantines records of the wrong width', () => {
    const decoded = decode('a,b\n1,\n"",2\n1,2,3\n\n"x\ny",z\n')
    expect(decoded.rows).toEqual([
      ['1', null],
      [null, '2'],
      ['x\ny', 'z'],
    ])
    expect(decoded.records).toEqual([0, 1, 3])
    expect(decoded.rejections).toEqual([
      { record: 2, rule: 'parse', reason: 'expected 2 fields, got 3', value: '1,2,3' },
    ])
  })
})
