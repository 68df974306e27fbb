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

/**
 * A selector written as a query string, comma-separated: `region=eu`, `role in (pos,kiosk)`,
 * `gpu` (the label exists), `!gpu` (it does not). Returns the selector, or what is wrong.
 */
export function parseSelectorQuery(text: string): { selector: Selector } | { error: string } {
  const out: Selector = {}
  // Split on commas outside parentheses.
  const terms: string[] = []
  let depth = 0
  let current = ''
  for (const ch of text) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      terms.push(current)
      current = ''
    } else current += ch
  }
  terms.push(current)
  for (const raw of terms) {
    const term = raw.trim()
    if (term === '') continue
    const inSet = /^([^\s=!()]+)\s+in\s+\(([^)]*)\)$/.exec(term)
    const equals = /^([^\s=!()]+)\s*==?\s*([^\s=!(),]*)$/.exec(term)
    const exists = /^(!?)([^\s=!()]+)$/.exec(term)
    let key: string
    let want: Selector[string]
    if (inSet) {
      key = inSet[1]!
      want = inSet[2]!
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
      if (want.length === 0) return { error: `"${term}": the set is empty` }
    } else if (equals) {
      key = equals[1]!
      want = equals[2]!
    } else if (exists) {
      key = exists[2]!
      want = exists[1] !== '!'
    } else {
      return { error: `"${term}" is not a selector term: use key=value, key in (a,b), key or !key` }
    }
    const k = labelKey.safeParse(key)
    if (!k.success) return { error: `"${term}": ${key} is not a label key (${k.error.issues[0]?.message})` }
    if (Object.hasOwn(out, key)) return { error: `"${term}": ${key} appears twice` }
    out[key] = want
  }
  return { selector: out }
}
