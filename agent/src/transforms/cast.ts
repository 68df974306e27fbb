import { type CastTarget, castTransformSpec } from '@outpost/shared'
import type { Value } from '@outpost/shared/batch'
import { type Converter, converterTo, FAIL } from './convert.js'
import { columnIndex, defineTransform, TransformConfigError } from './types.js'

export const castTransform = defineTransform<Record<string, CastTarget>>({
  spec: castTransformSpec,
  bind(options, input) {
    const columns = input.map((c) => ({ ...c }))
    const plan: {
      index: number
      name: string
      from: (typeof input)[number]['type']
      to: string
      convert: Converter
    }[] = []
    for (const [name, target] of Object.entries(options)) {
      const index = columnIndex(input, name, 'cast')
      const spec = typeof target === 'string' ? { type: target } : target
      const convert = converterTo(spec.type, {
        ...(spec.format !== undefined ? { format: spec.format } : {}),
        ...(spec.timezone !== undefined ? { timezone: spec.timezone } : {}),
      })
      if (typeof convert === 'string') throw new TransformConfigError(`cast ${name}: ${convert}`)
      plan.push({ index, name, from: input[index]!.type, to: spec.type, convert })
      columns[index]!.type = spec.type
    }
    return {
      columns,
      run(frame, report) {
        const keptRows: Value[][] = []
        const keptRecords: number[] = []
        const { rows, records } = frame
        for (let r = 0; r < rows.length; r++) {
          const row = rows[r]!
          let ok = true
          for (const step of plan) {
            const value = row[step.index] as Value
            if (value === null) continue
            const converted = step.convert(value, step.from)
            if (converted === FAIL) {
              report.reject({
                record: records[r]!,
                rule: 'cast',
                column: step.name,
                value: String(value).slice(0, 200),
                reason: `cannot convert "${String(value).slice(0, 100)}" in column ${step.name} to ${step.to}`,
              })
              ok = false
              break
            }
            row[step.index] = converted
          }
          if (ok) {
            keptRows.push(row)
            keptRecords.push(records[r]!)
          }
        }
        return { columns, rows: keptRows, records: keptRecords }
      },
    }
  },
})
