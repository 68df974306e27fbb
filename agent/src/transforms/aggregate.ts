/**
 * aggregate: one row per group for the whole run. In the worker, a batch's rows become a partial
 * (group → metric states) handed to the main thread instead of rows; the main thread checkpoints
 * each partial with the source cursor and, once the run has read everything, merges them and
 * sends the groups through the steps after the aggregate (see runtime/run.ts).
 */
import { type AggregateOptions, aggregateTransformSpec, type ColumnTypeName } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import { accumulate, initial, type MetricInfo, type MetricState, seal } from './aggregate-state.js'
import { rowKey } from './keys.js'
import { columnIndex, defineTransform, TransformConfigError } from './types.js'

const NUMBERS = new Set<ColumnTypeName>(['int', 'float', 'decimal'])
const ORDERED = new Set<ColumnTypeName>(['int', 'float', 'decimal', 'string', 'timestamp', 'date', 'bool'])

function bindMetric(name: string, metric: AggregateOptions['metrics'][string], input: Column[]): MetricInfo {
  if (metric === 'count') return { name, kind: 'rows', index: -1, input: 'int', output: 'int' }
  const [kind, column] = Object.entries(metric)[0] as [MetricInfo['kind'], string]
  const index = columnIndex(input, column, 'aggregate')
  const type = input[index]!.type
  const refuse = (what: string) =>
    new TransformConfigError(`aggregate: ${name}: ${kind} needs ${what}; column ${column} is ${type}`)
  switch (kind) {
    case 'sum':
      if (!NUMBERS.has(type)) throw refuse('a number column (int, float, decimal)')
      return { name, kind, index, input: type, output: type }
    case 'avg':
      if (!NUMBERS.has(type)) throw refuse('a number column (int, float, decimal)')
      return { name, kind, index, input: type, output: 'float' }
    case 'min':
    case 'max':
      if (!ORDERED.has(type)) throw refuse('a column with an order')
      return { name, kind, index, input: type, output: type }
    default:
      return { name, kind, index, input: type, output: 'int' }
  }
}

export const aggregateTransform = defineTransform<AggregateOptions>({
  spec: aggregateTransformSpec,
  bind(options, input) {
    const groupIndices = options.group_by.map((g) => columnIndex(input, g, 'aggregate'))
    const metrics = Object.entries(options.metrics).map(([name, m]) => bindMetric(name, m, input))
    const columns: Column[] = [
      ...groupIndices.map((i) => ({ ...input[i]! })),
      ...metrics.map((m) => ({ name: m.name, type: m.output })),
    ]
    const names = new Set<string>()
    for (const c of columns) {
      if (names.has(c.name))
        throw new TransformConfigError(`aggregate: column "${c.name}" would appear twice`)
      names.add(c.name)
    }
    return {
      columns,
      run(frame, _report, context) {
        const groups = new Map<string, [Value[], MetricState[], (Set<string> | undefined)[]]>()
        for (const row of frame.rows) {
          const key = rowKey(row, groupIndices)
          let group = groups.get(key)
          if (!group) {
            group = [groupIndices.map((i) => row[i] ?? null), metrics.map(initial), []]
            groups.set(key, group)
          }
          accumulate(group[1], row, metrics, group[2])
        }
        context.aggregate = {
          consumed: frame.records,
          partial: {
            columns,
            sourceColumns: [],
            metrics,
            groups: [...groups.entries()].map(([key, [values, states, distinct]]) => {
              seal(states, distinct)
              return [key, values, states]
            }),
          },
        }
        return { columns, rows: [], records: [] }
      },
    }
  },
})
