/**
 * JSON with exact numbers. JSON.parse turns 9223372036854775807 into 9223372036854775808 and
 * 99999999999999999999.000001 into 100000000000000000000; APIs and exports carry such ids and
 * amounts. Documents without long numbers take the fast JSON.parse path; the others go through
 * lossless-json, which keeps unsafe integers as bigint and unsafe fractions as DecimalText.
 */
import { isInteger, isSafeNumber, parse } from 'lossless-json'

/** A number too precise for a double, kept as its text. */
export class DecimalText {
  constructor(readonly text: string) {}
}

// A number with 16 or more digits might not survive a double.
const LONG_NUMBER = /[0-9][0-9.eE+-]{15,}/

function parseNumber(text: string): number | bigint | DecimalText {
  if (isSafeNumber(text)) return Number(text)
  return isInteger(text) ? BigInt(text) : new DecimalText(text)
}

export function parseJson(text: string): unknown {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text)
  return parse(text, null, parseNumber)
}

/** JSON text for values parsed by parseJson (long numbers are written as strings). */
export function stringifyJson(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, x: unknown) =>
    typeof x === 'bigint' ? x.toString() : x instanceof DecimalText ? x.text : x,
  )
}
