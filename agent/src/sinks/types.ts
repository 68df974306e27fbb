import type { ComponentSpec } from '@outpost/shared'
import type { Column, RowBatch } from '@outpost/shared/batch'
import type * as z from 'zod'
import type { FileRoots } from '../file-roots.js'
import type { Logger } from '../log.js'
import type { SecretResolver } from '../secrets.js'

/** One committed batch on its way to a sink: the encoded DataBatch plus what identifies it. */
export interface SinkBatch {
  /** `<agent>/<pipeline>/<run>/<seq>`: the same on every redelivery, so sinks can be idempotent. */
  id: string
  agentId: string
  pipeline: string
  runId: string
  seq: number
  createdAt: number
  rows: number
  /** What the sink's `encode` made of the rows in the worker, or a telemetry.v1.DataBatch when it has none. */
  payload: Uint8Array
}

export interface SinkContext {
  agentId: string
  pipeline: string
  log: Logger
  /** Resolves ${secret:NAME} references; options arrive already resolved. */
  secrets: SecretResolver
  /** The agent's file_roots, when set: file sinks write only inside them. */
  fileRoots?: FileRoots | undefined
}

export interface SinkWriter {
  /** Writes a batch; writing the same batch id twice must not duplicate rows. */
  write(batch: SinkBatch): Promise<void>
  /**
   * Called once a run has committed all its batches (sinks with `finishesRuns`), e.g. to swap in
   * what a `replace` load staged. Must be idempotent: a crash may deliver it twice.
   */
  finishRun?(run: { runId: string; succeeded: boolean }): Promise<void>
  close(): Promise<void>
}

export interface SinkImpl<Options> {
  spec: ComponentSpec<string, z.ZodRawShape>
  /** `local` sinks are written by the agent; `central` batches go over NATS to the control plane. */
  delivery: 'local' | 'central'
  open(options: Options, context: SinkContext): SinkWriter
  /** Test the connection without writing; resolves with what was found. */
  check?(options: Options, context: SinkContext): Promise<string>
  /**
   * Worker side: rows to the bytes the sink will write, done where the rows already are so the
   * main thread only moves bytes. Sinks without it receive the encoded DataBatch.
   */
  encode?(options: Options, batch: RowBatch): Uint8Array
  /**
   * Worker side: the payload for rows of string columns already written as COPY text lines (a
   * source's copyText), the same bytes `encode` makes of those rows.
   */
  encodeCopyText?(options: Options, columns: Column[], copy: Uint8Array): Uint8Array
  /** The writer needs to hear when a run ends (see SinkWriter.finishRun). */
  finishesRuns?(options: Options): boolean
}

export function defineSink<Options>(impl: SinkImpl<Options>): SinkImpl<Options> {
  return impl
}
