import { compileCel, filterTransformSpec } from '@outpost/shared'
import type { Value } from '@outpost/shared/batch'
import { activationFor, describeCelError, referencedColumns } from './cel-values.js'
import { defineTransform } from './types.js'

export const filterTransform = defineTransform<string>({
  spec: filterTransformSpec,
  bind(expression, input) {
    const program = compileCel(expression)
    const used = referencedColumns(expression, input)
    return {
      columns: input,
      run(frame, report, context) {
        const keptRows: Value[][] = []
        const keptRecords: number[] = []
        let filtered = 0
        const { rows, records } = frame
        const activation = activationFor(used, context.now)
        for (let r = 0; r < rows.length; r++) {
          const row = rows[r]!
          const variables = activation(row)
          let result: unknown
          try {
            result = program(variables)
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
