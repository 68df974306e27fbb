import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fuzzBudget } from '../../../test/helpers/fuzz.js'
import { isJson } from './json-check.js'

function parses(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** JSON text, then damaged: a character left out, doubled or replaced by one JSON cares about. */
const damagedJson = fc
  .tuple(
    fc.json({ maxDepth: 4 }),
    fc.nat(),
    fc.constantFrom('', ' ', ',', ':', '"', '\\', '{', '}', '[', ']', '-', '.', 'e', '0', '\u0001', 'u'),
    fc.boolean(),
  )
  .map(([text, at, piece, replace]) => {
    const i = text.length === 0 ? 0 : at % text.length
    return text.slice(0, i) + piece + text.slice(replace ? i + 1 : i)
  })

describe('isJson: the json cast checks text without building it', () => {
  it('says what JSON.parse says, for JSON, damaged JSON and any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.json({ maxDepth: 5 }), damagedJson, fc.string({ unit: 'binary', maxLength: 30 })),
        (text) => {
          expect(isJson(text), JSON.stringify(text)).toBe(parses(text))
        },
      ),
      fuzzBudget(20_000, 5),
    )
  })

  it('agrees on the corners of the grammar', () => {
    const cases = [
      '0',
      '-0',
      '01',
      '-',
      '1.',
      '.1',
      '1e',
      '1e+',
      '1E-2',
      '-1.5e10',
      '1.5e+10x',
      'true',
      'tru',
      'nul',
      '"a"',
      '"\\u00e9"',
      '"\\u00g9"',
      '"\\x"',
      '"\t"',
      '"\\/"',
      '"\ud800"',
      ' [ ] ',
      '[,]',
      '[1,]',
      '[1 2]',
      '{}',
      '{"a"}',
      '{"a":}',
      '{"a":1,}',
      '{"a":1 "b":2}',
      '{1:2}',
      '{"a":1}}',
      '[[[]]]',
      '[[[]]',
      '',
      ' ',
      '"',
      '\u00a0 1',
      '1 \n',
      '{"a":[1,{"b":null}],"c":"d"}',
      `${'['.repeat(100)}${']'.repeat(100)}`,
      `${'['.repeat(100)}${']'.repeat(99)}`,
    ]
    for (const text of cases) expect(isJson(text), JSON.stringify(text)).toBe(parses(text))
  })
})
