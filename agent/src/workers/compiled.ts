/**
 * A pipeline version compiled for the worker: the source decoder and the transform chain, bound
 * to the columns actually seen (bindings are cached per column layout).
 */
import { InvalidSpecError, type Pipeline, validatePipeline } from '@outpost/shared'
import type { Column } from '@outpost/shared/batch'
import { sinks, sources, transforms } from '../registry.js'
import type { SinkImpl } from '../sinks/types.js'
import type { SourceImpl } from '../sources/types.js'
import type { BoundStep, TransformImpl } from '../transforms/types.js'
import { type BoundValidation, bindValidation } from '../validate/apply.js'

export class CompiledPipeline {
  readonly source: SourceImpl<unknown>
  private readonly chains = new Map<string, BoundStep[]>()
  private readonly validations = new Map<string, BoundValidation>()

  /** Position of the aggregate step in the chain (-1 without one). */
  readonly aggregateIndex: number
  /** Whether the chain has a dedupe step. */
  readonly dedupes: boolean
  /**
   * Chunks may go from the source's bytes straight to the sinks' payloads as COPY text: no
   * transforms, no validation, and every sink takes COPY text.
   */
  readonly copiesText: boolean

  constructor(readonly pipeline: Pipeline) {
    this.source = sources[pipeline.spec.source.type] as SourceImpl<unknown>
    this.aggregateIndex = pipeline.spec.transforms.findIndex((t) => 'aggregate' in t)
    this.dedupes = pipeline.spec.transforms.some((t) => 'dedupe' in t)
    this.copiesText =
      this.source.copyText !== undefined &&
      pipeline.spec.transforms.length === 0 &&
      !pipeline.spec.validate &&
      pipeline.spec.sinks.every((s) => (sinks[s.type] as SinkImpl<unknown>).encodeCopyText !== undefined)
  }

  static fromJson(specJson: string): CompiledPipeline {
    const parsed = validatePipeline(JSON.parse(specJson))
    if (!parsed.ok) throw new InvalidSpecError(parsed.errors)
    return new CompiledPipeline(parsed.value.pipeline)
  }

  /** The transform steps for rows with these columns. */
  chain(columns: readonly Column[]): BoundStep[] {
    const key = columns.map((c) => `${c.name}:${c.type}`).join('\u0000')
    let chain = this.chains.get(key)
    if (!chain) {
      chain = []
      let current = columns.slice()
      for (const t of this.pipeline.spec.transforms) {
        const [name, options] = Object.entries(t)[0] as [keyof typeof transforms, unknown]
        const step = (transforms[name] as TransformImpl<unknown>).bind(options, current, {
          pipeline: this.pipeline.metadata.name,
        })
        chain.push(step)
        current = step.columns
      }
      if (this.chains.size > 32) this.chains.clear()
      this.chains.set(key, chain)
    }
    return chain
  }

  /** The validate section bound to the columns after the transforms (undefined without one). */
  validation(columns: readonly Column[]): BoundValidation | undefined {
    const spec = this.pipeline.spec.validate
    if (!spec) return undefined
    const key = columns.map((c) => `${c.name}:${c.type}`).join('\u0000')
    let bound = this.validations.get(key)
    if (!bound) {
      bound = bindValidation(spec, columns)
      if (this.validations.size > 32) this.validations.clear()
      this.validations.set(key, bound)
    }
    return bound
  }

  sink(index: number): { impl: SinkImpl<unknown>; options: unknown } {
    const options = this.pipeline.spec.sinks[index]
    if (!options) throw new Error(`pipeline ${this.pipeline.metadata.name} has no sink ${index}`)
    return { impl: sinks[options.type] as SinkImpl<unknown>, options }
  }
}

/** A small cache of compiled pipelines, keyed by name and spec hash. */
export class CompiledCache {
  private readonly entries = new Map<string, CompiledPipeline>()
  get(key: string, specJson: string): CompiledPipeline {
    let compiled = this.entries.get(key)
    if (!compiled) {
      compiled = CompiledPipeline.fromJson(specJson)
      if (this.entries.size >= 64) this.entries.delete(this.entries.keys().next().value as string)
      this.entries.set(key, compiled)
    }
    return compiled
  }
}
