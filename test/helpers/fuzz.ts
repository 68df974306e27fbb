/**
 * The budget of the fuzzing properties (fast-check): a fixed number of cases, cut short after a
 * time limit so CI stays fast. OUTPOST_FUZZ_SCALE=20 runs twenty times as many cases for twenty
 * times as long, for a longer session on a workstation.
 */
import { type DescMessage, type MessageShape, toBinary } from '@bufbuild/protobuf'
import fc from 'fast-check'

const scale = Math.max(1, Number(process.env.OUTPOST_FUZZ_SCALE ?? 1) || 1)

export function fuzzBudget(
  numRuns: number,
  seconds = 4,
): { numRuns: number; interruptAfterTimeLimit: number } {
  return { numRuns: Math.round(numRuns * scale), interruptAfterTimeLimit: seconds * 1000 * scale }
}

/** The test's own time limit for a property given `seconds` of budget: room for set-up and shrinking. */
export function fuzzTimeout(seconds = 4): number {
  return (seconds * scale + 30) * 1000
}

/** Byte-level damage to an encoding: flipped bytes, cut short, bytes inserted, a varint left open. */
export function damaged(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc
      .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 })
      .map((flips) => {
        const out = valid.slice()
        for (const [at, byte] of flips) if (out.length > 0) out[at % out.length] = byte
        return out
      }),
    fc.nat().map((cut) => valid.slice(0, valid.length === 0 ? 0 : cut % valid.length)),
    fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, bytes]) => {
      const i = valid.length === 0 ? 0 : at % valid.length
      return new Uint8Array([...valid.slice(0, i), ...bytes, ...valid.slice(i)])
    }),
    fc.constant(new Uint8Array([...valid, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff])),
  )
}

/** A valid message, or the same with random values in its fields, or either damaged. */
export function variants<D extends DescMessage>(
  schema: D,
  base: fc.Arbitrary<MessageShape<D>>,
  mutate: fc.Arbitrary<(m: MessageShape<D>) => void>,
): fc.Arbitrary<Uint8Array> {
  const messages = fc.tuple(base, fc.array(mutate, { maxLength: 3 })).map(([m, changes]) => {
    for (const change of changes) change(m)
    return toBinary(schema, m)
  })
  return fc.oneof(messages, messages.chain(damaged))
}
