import type { TransformSpec } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import type * as z from 'zod'
import type { AggregatePartial } from './aggregate-state.js'

/** Rows moving through the transform chain, with the index of each row's source record. */
export interface Frame {
  columns: Column[]
  rows: Value[][]
  /** Index of the source record each row came from (0-based, within the batch). */
  records: number[]
}

export interface Rejection {
  record: number
  /** The rule or step that rejected the row: `cast`, `filter`, `not_null`, … */
  rule: string
  reason: string
  column?: string
  value?: string
}

/** What a step reports besides its output: rows it rejected (quarantined) and rows it filtered out on purpose. */
export interface StepReport {
  reject(rejection: Rejection): void
  filtered(count: number): void
}

export interface TransformContext {
  pipeline: string
  agentId: string
  runId: string
  version: number
  /** What the rows came from: a file path, a table, a URL. */
  source: string
  /** Run start time, what `now` means in expressions. */
  now: Date
  /** Set by aggregate: the batch's partial result, and the records that went into it. */
  aggregate?: { partial: AggregatePartial; consumed: number[] }
  /** For dedupe: keys seen before this batch, and where the step notes each kept row's key. */
  dedupe?: { exclude: ReadonlySet<string>; keyOf: Map<number, string> }
  /** The agent's file_roots, when set: files a step reads must be inside one. */
  fileRoots?: readonly string[]
}

export interface BoundStep {
  columns: Column[]
  /** Loads what the step needs before the rows of a run (a lookup table); called before each batch. */
  prepare?(context: TransformContext): Promise<void>
  run(frame: Frame, report: StepReport, context: TransformContext): Frame
}

/** What a transform knows when it is bound, before any row. */
export interface BindContext {
  pipeline: string
}

/** A transform's implementation: given the columns coming in, the columns going out and the step. */
export interface TransformImpl<Options> {
  spec: TransformSpec<string, z.ZodType>
  bind(options: Options, input: Column[], context: BindContext): BoundStep
}

/** Bad configuration found once the real columns are known (a renamed column that is not there). */
export class TransformConfigError extends Error {
  override name = 'TransformConfigError'
  readonly code = 'transform_config'
  readonly retryable = false
}

export function columnIndex(columns: readonly Column[], name: string, transform: string): number {
  const index = columns.findIndex((c) => c.name === name)
  if (index < 0) {
    throw new TransformConfigError(
      `${transform}: no column "${name}"; the columns are ${columns.map((c) => c.name).join(', ')}`,
    )
  }
  return index
}

export function defineTransform<Options>(impl: TransformImpl<Options>): TransformImpl<Options> {
  return impl
}
