/**
 * Column-shaping and cleaning transforms that look at one batch at a time: select, drop, trim,
 * fill, mask, add_metadata and outliers. Statistics (mean, median, quartiles) are those of the
 * batch the row is in.
 */
import { createHmac } from 'node:crypto'
import {
  addMetadataTransformSpec,
  dropTransformSpec,
  fillTransformSpec,
  type METADATA_FIELDS,
  maskTransformSpec,
  outliersTransformSpec,
  selectTransformSpec,
  trimTransformSpec,
} from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import type * as z from 'zod'
import { converterTo, FAIL } from './convert.js'
import { columnIndex, defineTransform, type Frame, TransformConfigError } from './types.js'

const NUMERIC = new Set(['int', 'float', 'decimal'])

/** A frame with only the columns at `indices`, in that order. */
function project(frame: Frame, columns: Column[], indices: number[]): Frame {
  return {
    columns,
    rows: frame.rows.map((row) => indices.map((i) => row[i] as Value)),
    records: frame.records,
  }
}

export const selectTransform = defineTransform<string[]>({
  spec: selectTransformSpec,
  bind(names, input) {
    const indices = names.map((n) => columnIndex(input, n, 'select'))
    const columns = indices.map((i) => ({ ...input[i]! }))
    return { columns, run: (frame) => project(frame, columns, indices) }
  },
})

export const dropTransform = defineTransform<string[]>({
  spec: dropTransformSpec,
  bind(names, input) {
    const gone = new Set(names.map((n) => columnIndex(input, n, 'drop')))
    const indices = input.map((_, i) => i).filter((i) => !gone.has(i))
    const columns = indices.map((i) => ({ ...input[i]! }))
    return { columns, run: (frame) => project(frame, columns, indices) }
  },
})

export const trimTransform = defineTransform<'all' | string[]>({
  spec: trimTransformSpec,
  bind(options, input) {
    const indices =
      options === 'all'
        ? input.flatMap((c, i) => (c.type === 'string' ? [i] : []))
        : options.map((n) => {
            const i = columnIndex(input, n, 'trim')
            if (input[i]!.type !== 'string')
              throw new TransformConfigError(`trim: column ${n} is ${input[i]!.type}, not string`)
            return i
          })
    return {
      columns: input,
      run(frame) {
        for (const row of frame.rows) {
          for (const i of indices) {
            const v = row[i]
            if (typeof v !== 'string') continue
            const t = v.trim()
            row[i] = t === '' ? null : t
          }
        }
        return frame
      },
    }
  },
})

function median(sorted: number[]): number {
  const mid = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** A number as a cell of a numeric column type. */
function numberCell(n: number, type: string): Value {
  if (type === 'int') return Math.round(n)
  if (type === 'decimal') return String(n)
  return n
}

type FillOptions = z.output<typeof fillTransformSpec.options>

export const fillTransform = defineTransform<FillOptions>({
  spec: fillTransformSpec,
  bind(options, input) {
    const plan = Object.entries(options).map(([name, how]) => {
      const index = columnIndex(input, name, 'fill')
      const type = input[index]!.type
      if (typeof how === 'object') {
        if (how.with !== 'previous' && !NUMERIC.has(type))
          throw new TransformConfigError(
            `fill ${name}: ${how.with} needs a number column; ${name} is ${type}`,
          )
        return { index, strategy: how.with, value: null as Value }
      }
      const convert = converterTo(type)
      const value =
        typeof convert === 'string'
          ? FAIL
          : convert(
              how as Value,
              typeof how === 'string' ? 'string' : typeof how === 'boolean' ? 'bool' : 'float',
            )
      if (value === FAIL)
        throw new TransformConfigError(`fill ${name}: ${JSON.stringify(how)} is not a ${type}`)
      return { index, strategy: 'value' as const, value }
    })
    return {
      columns: input,
      run(frame) {
        for (const step of plan) {
          let fillWith = step.value
          if (step.strategy === 'mean' || step.strategy === 'median') {
            const numbers = frame.rows
              .flatMap((r) => (r[step.index] === null ? [] : [Number(r[step.index])]))
              .filter(Number.isFinite)
            if (numbers.length === 0) continue
            const stat =
              step.strategy === 'mean'
                ? numbers.reduce((a, b) => a + b, 0) / numbers.length
                : median(numbers.sort((a, b) => a - b))
            fillWith = numberCell(stat, input[step.index]!.type)
          }
          let previous: Value = null
          for (const row of frame.rows) {
            const v = row[step.index] as Value
            if (v !== null) {
              previous = v
              continue
            }
            row[step.index] = step.strategy === 'previous' ? previous : fillWith
          }
        }
        return frame
      },
    }
  },
})

type MaskOptions = z.output<typeof maskTransformSpec.options>

export const maskTransform = defineTransform<MaskOptions>({
  spec: maskTransformSpec,
  bind(options, input, context) {
    const plan = Object.entries(options).map(([name, method]) => {
      const index = columnIndex(input, name, 'mask')
      if (method === 'redact') return { index, mask: () => '***' }
      if (typeof method === 'object' && 'keep_last' in method) {
        const n = method.keep_last
        return {
          index,
          mask: (text: string) => {
            const chars = [...text]
            return chars.length <= n ? text : '*'.repeat(chars.length - n) + chars.slice(-n).join('')
          },
        }
      }
      const salt = typeof method === 'object' ? method.sha256.salt : context.pipeline
      if (salt.includes('${secret:'))
        throw new TransformConfigError(`mask ${name}: the salt ${salt} was not resolved`)
      return { index, mask: (text: string) => createHmac('sha256', salt).update(text).digest('hex') }
    })
    const columns = input.map((c, i) =>
      plan.some((p) => p.index === i) ? { name: c.name, type: 'string' as const } : c,
    )
    return {
      columns,
      run(frame) {
        for (const row of frame.rows) {
          for (const step of plan) {
            const v = row[step.index]
            if (v === null || v === undefined) continue
            row[step.index] = step.mask(typeof v === 'string' ? v : String(v))
          }
        }
        return { ...frame, columns }
      },
    }
  },
})

type MetadataField = (typeof METADATA_FIELDS)[number]
const METADATA_TYPE: Record<MetadataField, Column['type']> = {
  extracted_at: 'timestamp',
  source: 'string',
  agent_id: 'string',
  run_id: 'string',
  pipeline: 'string',
  pipeline_version: 'int',
}

export const addMetadataTransform = defineTransform<Record<string, MetadataField>>({
  spec: addMetadataTransformSpec,
  bind(options, input) {
    const added = Object.entries(options)
    for (const [name] of added) {
      if (input.some((c) => c.name === name))
        throw new TransformConfigError(`add_metadata: there is already a column "${name}"`)
    }
    const columns = [...input, ...added.map(([name, field]) => ({ name, type: METADATA_TYPE[field] }))]
    return {
      columns,
      run(frame, _report, context) {
        const known: Record<MetadataField, Value> = {
          extracted_at: context.now.getTime() * 1000,
          source: context.source,
          agent_id: context.agentId,
          run_id: context.runId,
          pipeline: context.pipeline,
          pipeline_version: context.version,
        }
        const values = added.map(([, field]) => known[field])
        for (const row of frame.rows) row.push(...values)
        return { ...frame, columns }
      },
    }
  },
})

type OutlierOptions = z.output<typeof outliersTransformSpec.options>

/** Bounds outside which a value is an outlier, from the batch's numbers. */
function bounds(numbers: number[], method: 'iqr' | 'zscore', threshold: number): [number, number] {
  if (method === 'zscore') {
    const mean = numbers.reduce((a, b) => a + b, 0) / numbers.length
    const sd = Math.sqrt(numbers.reduce((a, b) => a + (b - mean) ** 2, 0) / numbers.length)
    return [mean - threshold * sd, mean + threshold * sd]
  }
  const sorted = [...numbers].sort((a, b) => a - b)
  const q = (p: number) => {
    const at = (sorted.length - 1) * p
    const lo = Math.floor(at)
    return (sorted[lo] as number) + ((sorted[Math.ceil(at)] as number) - (sorted[lo] as number)) * (at - lo)
  }
  const q1 = q(0.25)
  const q3 = q(0.75)
  return [q1 - threshold * (q3 - q1), q3 + threshold * (q3 - q1)]
}

export const outliersTransform = defineTransform<OutlierOptions>({
  spec: outliersTransformSpec,
  bind(options, input) {
    const index = columnIndex(input, options.column, 'outliers')
    const type = input[index]!.type
    if (!NUMERIC.has(type))
      throw new TransformConfigError(`outliers: column ${options.column} is ${type}, not a number`)
    const threshold = options.threshold ?? (options.method === 'iqr' ? 1.5 : 3)
    const flag = options.action === 'flag'
    const flagName = `${options.column}_outlier`
    if (flag && input.some((c) => c.name === flagName))
      throw new TransformConfigError(`outliers: there is already a column "${flagName}"`)
    const columns = flag ? [...input, { name: flagName, type: 'bool' as const }] : input
    return {
      columns,
      run(frame) {
        const numbers = frame.rows
          .flatMap((r) => (r[index] === null ? [] : [Number(r[index])]))
          .filter(Number.isFinite)
        const [low, high] =
          numbers.length > 0 ? bounds(numbers, options.method, threshold) : [-Infinity, Infinity]
        for (const row of frame.rows) {
          const v = row[index]
          const n = v === null ? Number.NaN : Number(v)
          const outside = Number.isFinite(n) && (n < low || n > high)
          if (flag) row.push(v === null ? null : outside)
          else if (outside)
            row[index] = numberCell(
              n < low ? (type === 'int' ? Math.ceil(low) : low) : type === 'int' ? Math.floor(high) : high,
              type,
            )
        }
        return { ...frame, columns }
      },
    }
  },
})
