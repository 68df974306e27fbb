import * as z from 'zod'
import { duration } from './duration.js'
import { labels, resourceName } from './names.js'
import { schedule } from './schedule.js'
import { selector } from './selector.js'
import { sinkSpecs } from './sinks/index.js'
import { sourceSpecs } from './sources/index.js'
import { transformSpecs } from './transforms/index.js'
import { validateSchema } from './validate.js'

export const API_VERSION = 'outpost/v1'

const [firstSource, ...otherSources] = sourceSpecs.map((s) => s.schema)
const [firstSink, ...otherSinks] = sinkSpecs.map((s) => s.schema)
const [firstTransform, ...otherTransforms] = transformSpecs.map((t) => t.schema)

export const sourceSchema = z.discriminatedUnion('type', [firstSource!, ...otherSources])
export const sinkSchema = z.discriminatedUnion('type', [firstSink!, ...otherSinks])
export const transformSchema = z.union([firstTransform!, ...otherTransforms])

export const pipelineSpecSchema = z.strictObject({
  description: z.string().max(2000).optional().describe('What the pipeline is for.'),
  selector: selector
    .optional()
    .describe('Labels an agent must carry to run this pipeline; empty or absent means every agent.'),
  schedule: schedule.default('manual'),
  source: sourceSchema,
  transforms: z
    .array(transformSchema)
    .default([])
    .refine(
      (list) => list.filter((t) => 'dedupe' in (t as object)).length <= 1,
      'a pipeline has at most one dedupe step',
    )
    .refine(
      (list) => list.filter((t) => 'aggregate' in (t as object)).length <= 1,
      'a pipeline has at most one aggregate step',
    )
    .describe('Applied in order to every row.'),
  validate: validateSchema.optional(),
  sinks: z.array(sinkSchema).min(1, 'a pipeline needs at least one sink').describe('Where the rows go.'),
  retry: z
    .strictObject({
      attempts: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(3)
        .describe('Attempts per run, including the first.'),
      backoff: duration
        .prefault('1s')
        .describe('Delay before the first retry; doubled for each further one.'),
    })
    .prefault({}),
  timeout: duration.prefault('1h').describe('A run that takes longer is cancelled and fails.'),
  buffer: z
    .strictObject({
      when_full: z
        .enum(['block', 'drop_oldest'])
        .default('block')
        .describe(
          "When the agent outbox reaches its disk budget: block pauses extraction until there is room; drop_oldest drops this pipeline's oldest undelivered batches, counted and reported.",
        ),
    })
    .prefault({})
    .describe('What happens to this pipeline when the agent outbox is full.'),
})

export const pipelineSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Pipeline'),
  metadata: z.strictObject({
    name: resourceName.describe('Unique name of the pipeline.'),
    labels: labels.optional(),
  }),
  spec: pipelineSpecSchema,
})

export type Pipeline = z.output<typeof pipelineSchema>
export type PipelineInput = z.input<typeof pipelineSchema>
export type PipelineSpec = Pipeline['spec']
export type SourceOptions = z.output<typeof sourceSchema>
export type SinkOptions = z.output<typeof sinkSchema>
export type TransformOptions = z.output<typeof transformSchema>
