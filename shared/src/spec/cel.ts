import { Environment } from '@marcbachmann/cel-js'

/** How CEL hands back a uint (a bigint inside) and a duration; derive turns them into cells. */
export { Duration as CelDuration, UnsignedInt as CelUint } from '@marcbachmann/cel-js/evaluator'

/**
 * One CEL environment for every expression in a spec (filter, derive, expr rules). Column names
 * are dynamic variables; `now` is the run's start time. Shared so the browser, the control plane
 * and the agent accept exactly the same expressions.
 */
export const celEnvironment = new Environment({
  unlistedVariablesAreDyn: true,
  homogeneousAggregateLiterals: false,
  limits: { maxAstNodes: 2000, maxDepth: 64 },
})

export interface CelProblem {
  message: string
  /** 0-based character offset into the expression. */
  offset: number
}

interface CelErrorShape {
  summary?: string
  message: string
  range?: { start: number }
}

/** Why the expression is not valid CEL, or undefined. */
export function celProblem(expression: string): CelProblem | undefined {
  try {
    const result = celEnvironment.check(expression)
    if (result.valid) return undefined
    const error = result.error as CelErrorShape | undefined
    return describe(expression, error)
  } catch (error) {
    return describe(expression, error as CelErrorShape)
  }
}

function describe(expression: string, error: CelErrorShape | undefined): CelProblem {
  const offset = error?.range?.start ?? 0
  const reason = (error?.summary ?? error?.message ?? 'invalid expression').split('\n')[0]
  return {
    offset,
    message: `invalid CEL expression "${expression}" at position ${offset + 1}: ${reason}`,
  }
}

export type CelProgram = (context: Record<string, unknown>) => unknown

export function compileCel(expression: string): CelProgram {
  return celEnvironment.parse(expression) as CelProgram
}

/** A node of cel-js's syntax tree: `op` names the operator, `args` its operands (shape per op). */
export interface CelNode {
  op: string
  args: unknown
}

/** The syntax tree of an expression that type-checks (columns as dyn), or undefined. */
export function celSyntaxTree(expression: string): CelNode | undefined {
  if (!celEnvironment.check(expression).valid) return undefined
  return (celEnvironment.parse(expression) as unknown as { ast: CelNode }).ast
}
