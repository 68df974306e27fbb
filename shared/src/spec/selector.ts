import * as z from 'zod'
import { labelKey, labelValue } from './names.js'

/**
 * Which agents run a pipeline. Each entry must hold: a string is equality, a list is set
 * membership, `true` means the label exists and `false` that it does not. Empty matches all.
 */
export const selector = z.record(labelKey, z.union([labelValue, z.array(labelValue).min(1), z.boolean()]))

export type Selector = z.output<typeof selector>

export function matchesSelector(
  sel: Selector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!sel) return true
  for (const [key, want] of Object.entries(sel)) {
    const have = Object.hasOwn(labels, key) ? labels[key] : undefined
    if (typeof want === 'boolean') {
      if ((have !== undefined) !== want) return false
    } else if (typeof want === 'string') {
      if (have !== want) return false
    } else if (have === undefined || !want.includes(have)) {
      return false
    }
  }
  return true
}
