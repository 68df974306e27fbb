import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Converter, compileFormat, converterTo, daysInMonth, FAIL } from './convert.js'

function to(type: Parameters<typeof converterTo>[0], options = {}): Converter {
  const c = converterTo(type, options)
  if (typeof c === 'string') throw new Error(c)
  return c
}

describe('conversions', () => {
  it('int: safe integers as numbers, beyond ±2^53 as bigint, out of int64 range fails', () => {
    const int = to('int')
    expect(int(' 42 ', 'string')).toBe(42)
    expect(int('-7', 'string')).toBe(-7)
    expect(int('12.0', 'string')).toBe(12)
    expect(int('12.5', 'string')).toBe(FAIL)
    expect(int('9007199254740993', 'string')).toBe(9007199254740993n)
    expect(int('9223372036854775807', 'string')).toBe(9223372036854775807n)
    expect(int('9223372036854775808', 'string')).toBe(FAIL)
    expect(int('1e3', 'string')).toBe(FAIL)
    expect(int('', 'string')).toBe(FAIL)
    expect(int('abc', 'string')).toBe(FAIL)
  })

  it('float and decimal: decimals keep every digit', () => {
    expect(to('float')('3.25', 'string')).toBe(3.25)
    expect(to('float')('NaN', 'string')).toBeNaN()
    expect(to('float')('-inf', 'string')).toBe(-Infinity)
    expect(to('float')('1,5', 'string')).toBe(FAIL)
    const dec = to('decimal')
    expect(dec('+0012.500', 'string')).toBe('12.500')
    expect(dec('.5', 'string')).toBe('0.5')
    expect(dec('-123456789012345678901234567890.123456789', 'string')).toBe(
      '-123456789012345678901234567890.123456789',
    )
    expect(dec('1.2.3', 'string')).toBe(FAIL)
  })

  it('bool accepts the usual spellings only', () => {
    const bool = to('bool')
    for (const t of ['true', 'T', 'yes', '1', 'on']) expect(bool(t, 'string')).toBe(true)
    for (const f of ['false', 'F', 'no', '0', 'off']) expect(bool(f, 'string')).toBe(false)
    expect(bool('maybe', 'string')).toBe(FAIL)
  })

  it('timestamps: ISO with offsets, microseconds, time zones across DST, formats', () => {
    const ts = to('timestamp')
    expect(ts('2024-01-01T00:00:00Z', 'string')).toBe(1_704_067_200_000_000)
    expect(ts('2024-01-01T01:00:00+01:00', 'string')).toBe(1_704_067_200_000_000)
    expect(ts('2024-01-01 00:00:00.123456Z', 'string')).toBe(1_704_067_200_123_456)
    expect(ts('2024-01-01', 'string')).toBe(1_704_067_200_000_000)
    expect(ts('2024-02-30T00:00:00Z', 'string')).toBe(FAIL)
    expect(ts('yesterday', 'string')).toBe(FAIL)
    expect(ts('9999-12-31T23:59:59.999999Z', 'string')).toBe(253_402_300_799_999_999n)
    const berlin = to('timestamp', { timezone: 'Europe/Berlin' })
    expect(berlin('2024-01-15T12:00:00', 'string')).toBe(Date.UTC(2024, 0, 15, 11) * 1000)
    expect(berlin('2024-07-15T12:00:00', 'string')).toBe(Date.UTC(2024, 6, 15, 10) * 1000)
    // The hour after the spring-forward gap and an explicit offset that overrides the zone.
    expect(berlin('2024-03-31T03:30:00', 'string')).toBe(Date.UTC(2024, 2, 31, 1, 30) * 1000)
    expect(berlin('2024-07-15T12:00:00Z', 'string')).toBe(Date.UTC(2024, 6, 15, 12) * 1000)
    const german = to('timestamp', { format: 'DD.MM.YYYY HH:mm:ss', timezone: 'Europe/Berlin' })
    expect(german('15.01.2024 12:00:00', 'string')).toBe(Date.UTC(2024, 0, 15, 11) * 1000)
    expect(to('timestamp', { format: 'unix' })('1704067200', 'string')).toBe(1_704_067_200_000_000)
    expect(to('timestamp', { format: 'unix_ms' })('1704067200123', 'string')).toBe(1_704_067_200_123_000)
  })

  it('dates', () => {
    const date = to('date')
    expect(date('1970-01-02', 'string')).toBe(1)
    expect(date('2024-02-29', 'string')).toBe(19782)
    expect(date('2023-02-29', 'string')).toBe(FAIL)
    expect(to('date', { format: 'DD/MM/YYYY' })('29/02/2024', 'string')).toBe(19782)
  })

  it('json and strings', () => {
    expect(to('json')('{"a":[1,2]}', 'string')).toBe('{"a":[1,2]}')
    expect(to('json')('{a:1}', 'string')).toBe(FAIL)
    expect(to('string')(1_704_067_200_000_000, 'timestamp')).toBe('2024-01-01T00:00:00Z')
    expect(to('string')(12n, 'int')).toBe('12')
  })

  it('refuses unusable options with a reason', () => {
    expect(converterTo('timestamp', { timezone: 'Mars/Base' })).toBe('unknown time zone "Mars/Base"')
    expect(converterTo('timestamp', { format: 'HH:mm' })).toBe('format "HH:mm" needs at least YYYY')
    expect(compileFormat('YYYY-MM-DD')?.('2024-05-06')).toMatchObject({ year: 2024, month: 5, day: 6 })
  })

  it('counts the days of a month as Date.UTC does, years 0-99 included', () => {
    for (let year = 0; year <= 9999; year++)
      for (let month = 1; month <= 12; month++)
        expect(daysInMonth(year, month)).toBe(new Date(Date.UTC(year, month, 0)).getUTCDate())
  })

  it('decimal: the same text as stripping signs and leading zeros always gave', () => {
    const reference = (value: string) => {
      let text = value.trim()
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return FAIL
      let sign = ''
      if (text[0] === '+' || text[0] === '-') {
        sign = text[0] === '-' ? '-' : ''
        text = text.slice(1)
      }
      if (text.startsWith('.')) text = `0${text}`
      return sign + text.replace(/^0+(?=\d)/, '')
    }
    const dec = to('decimal')
    fc.assert(
      fc.property(fc.stringMatching(/^ ?[+-]?0{0,2}[0-9]{0,4}(\.[0-9]{0,3})?(e[+-]?[0-9])? ?$/), (text) => {
        expect(dec(text, 'string')).toEqual(reference(text))
      }),
      { numRuns: 5000 },
    )
  })

  // The fast paths (plain digits, 'true'/'false', ISO with an offset) must give what the rules as
  // the regular expressions state them give, on text near and far from the fast shapes.
  const numberish = fc.stringMatching(/^ ?[+-]{0,2}[0-9]{0,18}(\.[0-9]{0,8})?\.?(e[+-]?[0-9]{1,2})?[a ]?$/)

  it('int: the value the integer rules give, for any text', () => {
    const reference = (value: string) => {
      const text = value.trim()
      if (!/^[+-]?\d+$/.test(text)) {
        const n = Number(text)
        return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text) && Number.isSafeInteger(n) ? n : FAIL
      }
      const n = Number(text)
      if (Number.isSafeInteger(n)) return n
      const big = BigInt(text)
      return big > 9223372036854775807n || big < -9223372036854775808n ? FAIL : big
    }
    const int = to('int')
    fc.assert(
      fc.property(fc.oneof(numberish, fc.string()), (text) => {
        expect(
          Object.is(int(text, 'string'), reference(text)) || int(text, 'string') === reference(text),
        ).toBe(true)
      }),
      { numRuns: 5000 },
    )
  })

  it('float: the double Number() reads from any decimal text', () => {
    const reference = (value: string) => {
      const text = value.trim()
      if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text)
      if (/^[+-]?(inf|infinity)$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity
      return /^nan$/i.test(text) ? Number.NaN : FAIL
    }
    const float = to('float')
    fc.assert(
      fc.property(fc.oneof(numberish, fc.string(), fc.double().map(String)), (text) => {
        expect(Object.is(float(text, 'string'), reference(text))).toBe(true)
      }),
      { numRuns: 5000 },
    )
  })

  it('bool: the spellings in any case and with spaces', () => {
    const bool = to('bool')
    fc.assert(
      fc.property(fc.constantFrom('true', 'false', 'TRUE', ' t', 'No ', 'off', 'maybe', '', '2'), (text) => {
        const word = text.trim().toLowerCase()
        const expected = ['true', 't', 'yes', 'y', '1', 'on'].includes(word)
          ? true
          : ['false', 'f', 'no', 'n', '0', 'off'].includes(word)
            ? false
            : FAIL
        expect(bool(text, 'string')).toBe(expected)
      }),
    )
  })

  it('timestamps: ISO text with an offset is the instant Date.UTC gives, in microseconds', () => {
    const ts = to('timestamp')
    const pad = (n: number, width: number) => String(Math.abs(n)).padStart(width, '0')
    fc.assert(
      fc.property(
        fc.record({
          year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1960, max: 2100 })),
          month: fc.integer({ min: 0, max: 13 }),
          day: fc.integer({ min: 0, max: 32 }),
          hour: fc.integer({ min: 0, max: 24 }),
          minute: fc.integer({ min: 0, max: 60 }),
          second: fc.integer({ min: 0, max: 61 }),
          fraction: fc.stringMatching(/^[0-9]{0,9}$/),
          offset: fc.oneof(fc.constant(undefined), fc.integer({ min: -14 * 60, max: 14 * 60 })),
          separator: fc.constantFrom('T', ' '),
        }),
        (t) => {
          const zone =
            t.offset === undefined
              ? 'Z'
              : `${t.offset < 0 ? '-' : '+'}${pad(Math.trunc(t.offset / 60), 2)}:${pad(t.offset % 60, 2)}`
          const text = `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}${t.separator}${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}${t.fraction ? `.${t.fraction}` : ''}${zone}`
          const valid =
            t.month >= 1 &&
            t.month <= 12 &&
            t.day >= 1 &&
            t.day <= daysInMonth(t.year, t.month) &&
            t.hour <= 23 &&
            t.minute <= 59 &&
            t.second <= 60
          if (!valid) {
            expect(ts(text, 'string')).toBe(FAIL)
            return
          }
          const ms =
            Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) - (t.offset ?? 0) * 60_000
          const micros = Number(t.fraction.slice(0, 6).padEnd(6, '0'))
          const expected = BigInt(ms) * 1000n + BigInt(micros)
          const got = ts(text, 'string')
          expect(typeof got === 'bigint' ? got : BigInt(got as number)).toBe(expected)
          expect(typeof got).toBe(Number.isSafeInteger(Number(expected)) ? 'number' : 'bigint')
        },
      ),
      { numRuns: 5000 },
    )
  })
})
