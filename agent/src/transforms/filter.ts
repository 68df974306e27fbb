import { compileCel, filterTransformSpec } from '@outpost/shared'
import type { Value } from '@outpost/shared/batch'
import { compileRowCel } from './cel-compile.js'
import { celOverRows, describeCelError, referencedColumns } from './cel-values.js'
import { defineTransform } from './types.js'

export const filterTransform = defineTransform<string>({
  spec: filterTransformSpec,
  bind(expression, input) {
    const program = compileCel(expression)
    const used = referencedColumns(expression, input)
    const compiled = compileRowCel(expression, used)
    return {
      columns: input,
      run(frame, report, context) {
        const keptRows: Value[][] = []
        const keptRecords: number[] = []
        let filtered = 0
        const { rows, records } = frame
        const evaluate = compiled ?? celOverRows(program, used, context.now)
        for (let r = 0; r < rows.length; r++) {
          const row = rows[r]!
          let result: unknown
          try {
            result = evaluate(row)
          } catch (error) {
            report.reject({
              record: records[r]!,
              rule: 'filter',
              reason: `filter "${expression}": ${describeCelError(error)}`,
            })
            continue
          }
          if (result === true) {
            keptRows.push(row)
            keptRecords.push(records[r]!)
          } else if (result === false) {
            filtered++
          } else {
            report.reject({
              record: records[r]!,
              rule: 'filter',
              reason: `filter "${expression}" returned ${typeof result}, not a bool`,
            })
          }
        }
        report.filtered(filtered)
        return { columns: frame.columns, rows: keptRows, records: keptRecords }
      },
    }
  },
})
