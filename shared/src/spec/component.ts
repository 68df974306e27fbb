import * as z from 'zod'

/**
 * The contract half of a source, sink or transform: its name, a one-line summary and its options
 * schema. The agent pairs each definition with an implementation in its own registry.
 */
export interface ComponentSpec<Type extends string, Shape extends z.ZodRawShape> {
  type: Type
  summary: string
  /** The options as a user writes them, including `type` for sources and sinks. */
  schema: z.ZodObject<Shape & { type: z.ZodLiteral<Type> }, z.core.$strict>
}

export function defineConnectorSpec<const Type extends string, Shape extends z.ZodRawShape>(def: {
  type: Type
  summary: string
  options: Shape
  /** Checks that involve several fields; add issues with the path of the field to fix. */
  check?: (value: z.output<z.ZodObject<Shape>>, ctx: z.RefinementCtx) => void
}): ComponentSpec<Type, Shape> {
  const shape = { type: z.literal(def.type).describe(def.summary), ...def.options } as Shape & {
    type: z.ZodLiteral<Type>
  }
  let schema = z.strictObject(shape).describe(def.summary)
  const check = def.check
  if (check) schema = schema.superRefine((value, ctx) => check(value as never, ctx))
  return { type: def.type, summary: def.summary, schema }
}

/** A transform is written as a one-key object: `{ rename: { a: b } }`. */
export interface TransformSpec<Name extends string, Options extends z.ZodType> {
  name: Name
  summary: string
  options: Options
  schema: z.ZodObject<{ [K in Name]: Options }, z.core.$strict>
}

export function defineTransformSpec<const Name extends string, Options extends z.ZodType>(def: {
  name: Name
  summary: string
  options: Options
}): TransformSpec<Name, Options> {
  const shape = { [def.name]: def.options.describe(def.summary) } as { [K in Name]: Options }
  return { ...def, schema: z.strictObject(shape).describe(def.summary) }
}
