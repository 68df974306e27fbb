/**
 * `npx tsx bench/cel.ts`: the two CEL implementations for JavaScript on the expressions pipelines
 * use (issue 5 asked to benchmark and choose): parse once, evaluate per row. Prints evaluations
 * per second for each, median of 5 rounds of 200,000 rows.
 */
import { parse as bufParse, celEnv, plan } from '@bufbuild/cel'
import { strings } from '@bufbuild/cel/ext'
import { parse as marcParse } from '@marcbachmann/cel-js'

const ROWS = 200_000
const rows = Array.from({ length: ROWS }, (_, i) => ({
  amount: (i % 1000) / 3,
  qty: BigInt(i % 17),
  active: i % 3 !== 0,
  country: ['DE', 'FR', 'US'][i % 3] as string,
  email: `user${i}@example${i % 5}.com`,
}))

const expressions = [
  ['filter', "amount > 0.0 && active && country in ['DE', 'FR']"],
  ['derive (arithmetic)', 'double(qty) * amount'],
  ['derive (string)', "email.split('@')[1]"],
] as const

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

function measure(run: (row: (typeof rows)[number]) => unknown): number {
  const rounds: number[] = []
  for (let r = 0; r < 6; r++) {
    const t = performance.now()
    for (const row of rows) run(row)
    if (r > 0) rounds.push(ROWS / ((performance.now() - t) / 1000))
  }
  return median(rounds)
}

const fmt = (n: number) => `${(n / 1e6).toFixed(2)}M/s`
console.log('| expression | @marcbachmann/cel-js | @bufbuild/cel | ratio |')
console.log('| --- | --- | --- | --- |')
for (const [what, expr] of expressions) {
  const marc = marcParse(expr)
  let marcRate: number | string
  try {
    marcRate = measure((row) => marc(row))
  } catch (error) {
    marcRate = `fails: ${(error as Error).message.split('\n')[0]}`
  }
  // With the strings extension, as split needs it.
  const env = celEnv({ funcs: [...strings] })
  const buf = plan(env, bufParse(expr))
  let bufRate: number | string
  try {
    const check = buf(rows[1] as never)
    if (check instanceof Error) throw check
    bufRate = measure((row) => buf(row as never))
  } catch (error) {
    bufRate = `fails: ${(error as Error).message.split('\n')[0]}`
  }
  const ratio =
    typeof marcRate === 'number' && typeof bufRate === 'number' ? (marcRate / bufRate).toFixed(1) : '—'
  console.log(
    `| \`${expr}\` (${what}) | ${typeof marcRate === 'number' ? fmt(marcRate) : marcRate} | ${typeof bufRate === 'number' ? fmt(bufRate) : bufRate} | ${ratio}× |`,
  )
}
