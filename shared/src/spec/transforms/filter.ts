import * as z from 'zod'
import { celProblem } from '../cel.js'
import { defineTransformSpec } from '../component.js'

/** A CEL expression, checked when the spec is applied so a typo never reaches an agent. */
export const celExpression = z.string().superRefine((expression, ctx) => {
  const problem = celProblem(expression)
  if (problem) ctx.addIssue({ code: 'custom', message: problem.message })
})

export const filterTransformSpec = defineTransformSpec({
  name: 'filter',
  summary: 'Keeps the rows for which a CEL expression is true, e.g. "amount > 0.0 && country in [\'DE\']".',
  options: celExpression,
})
