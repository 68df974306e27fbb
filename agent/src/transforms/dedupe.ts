/**
 * dedupe: the first row of each key wins. In the worker, a batch keeps the first row of a key and
 * drops the others, and rows whose key the main thread reports as already seen (earlier in the
 * run, or in earlier runs within the window) are dropped too. The keys of the rows that make it
 * through every step go back to the main thread, which records them in LMDB with the batch.
 */
import { dedupeTransformSpec } from '@outpost/shared'
import type { Value } from '@outpost/shared/batch'
import type * as z from 'zod'
import { rowKey } from './keys.js'
import { columnIndex, defineTransform } from './types.js'

export const dedupeTransform = defineTransform<z.output<typeof dedupeTransformSpec.options>>({
  spec: dedupeTransformSpec,
  bind(options, input) {
    const indices = options.keys.map((k) => columnIndex(input, k, 'dedupe'))
    return {
      columns: input,
      run(frame, report, context) {
        const seen = new Set<string>()
        const exclude = context.dedupe?.exclude
        const keyOf = context.dedupe?.keyOf
        const rows: Value[][] = []
        const records: number[] = []
        frame.rows.forEach((row, i) => {
          const key = rowKey(row, indices)
          if (seen.has(key) || exclude?.has(key)) return
          seen.add(key)
          keyOf?.set(frame.records[i]!, key)
          rows.push(row)
          records.push(frame.records[i]!)
        })
        report.filtered(frame.rows.length - rows.length)
        return { columns: frame.columns, rows, records }
      },
    }
  },
})
