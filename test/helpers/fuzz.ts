/**
 * The budget of the fuzzing properties (fast-check): a fixed number of cases, cut short after a
 * time limit so CI stays fast. OUTPOST_FUZZ_SCALE=20 runs twenty times as many cases for twenty
 * times as long, for a longer session on a workstation.
 */
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
