import { describe, expect, it } from 'vitest'
import { matchesSelector } from './selector.js'

describe('matchesSelector', () => {
  const labels = { region: 'eu', role: 'pos', gpu: '' }
  it('matches equality, set membership and existence', () => {
    expect(matchesSelector(undefined, labels)).toBe(true)
    expect(matchesSelector({}, labels)).toBe(true)
    expect(matchesSelector({ region: 'eu' }, labels)).toBe(true)
    expect(matchesSelector({ region: 'us' }, labels)).toBe(false)
    expect(matchesSelector({ role: ['pos', 'kiosk'] }, labels)).toBe(true)
    expect(matchesSelector({ role: ['kiosk'] }, labels)).toBe(false)
    expect(matchesSelector({ gpu: true }, labels)).toBe(true)
    expect(matchesSelector({ legacy: false }, labels)).toBe(true)
    expect(matchesSelector({ legacy: true }, labels)).toBe(false)
    expect(matchesSelector({ region: 'eu', role: ['kiosk'] }, labels)).toBe(false)
  })
  it('does not match inherited properties', () => {
    expect(matchesSelector({ constructor: true }, {})).toBe(false)
  })
})

describe('parseSelectorQuery', () => {
  it('reads equality, set membership and existence, and names what is wrong', async () => {
    const { parseSelectorQuery } = await import('./selector.js')
    expect(parseSelectorQuery('region=eu, role in (pos, kiosk),gpu,!legacy')).toEqual({
      selector: { region: 'eu', role: ['pos', 'kiosk'], gpu: true, legacy: false },
    })
    expect(parseSelectorQuery('')).toEqual({ selector: {} })
    expect(parseSelectorQuery('role in ()')).toEqual({ error: '"role in ()": the set is empty' })
    expect(parseSelectorQuery('a=b=c')).toMatchObject({
      error: expect.stringContaining('is not a selector term'),
    })
    expect(parseSelectorQuery('region=eu,region=us')).toEqual({ error: '"region=us": region appears twice' })
    expect(parseSelectorQuery('Bad Key=1')).toMatchObject({
      error: expect.stringContaining('not a selector term'),
    })
  })
})

describe('afterCycle', () => {
  it('finds a cycle among after dependencies and names its path', async () => {
    const { afterCycle } = await import('./schedule.js')
    expect(
      afterCycle(
        new Map([
          ['c', ['a', 'b']],
          ['a', []],
          ['b', ['a']],
        ]),
      ),
    ).toBeUndefined()
    expect(
      afterCycle(
        new Map([
          ['a', ['c']],
          ['b', ['a']],
          ['c', ['b']],
        ]),
      ),
    ).toBe('a → c → b → a')
    expect(afterCycle(new Map([['x', ['x']]]))).toBe('x → x')
  })
})
