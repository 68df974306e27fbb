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
