import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration } from './duration.js'

describe('durations', () => {
  it('parses and formats', () => {
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('30s')).toBe(30_000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('2d')).toBe(172_800_000)
    expect(parseDuration('10')).toBeUndefined()
    expect(parseDuration('-1s')).toBeUndefined()
    expect(formatDuration(90_000)).toBe('90s')
    expect(formatDuration(3_600_000)).toBe('1h')
    expect(formatDuration(1500)).toBe('1500ms')
  })
})
