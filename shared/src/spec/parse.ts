import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  parseDocument,
  visit,
} from 'yaml'
import type * as z from 'zod'
import { type Pipeline, pipelineSchema } from './pipeline.js'
import { transformSpecs } from './transforms/index.js'

/** One thing wrong with a spec: where (`spec.sinks[0].path`) and what. Line and column are 1-based. */
export interface SpecError {
  path: string
  message: string
  line?: number
  column?: number
}

export type ParseResult<T> =
  | { ok: true; value: T; errors?: undefined }
  | { ok: false; errors: SpecError[]; value?: undefined }

export interface ParsedPipeline {
  pipeline: Pipeline
  /** The document as written (no defaults filled in), with keys sorted: what gets versioned and hashed. */
  canonical: string
}

type PathKey = string | number
type Doc = ReturnType<typeof parseDocument>

export function formatPath(path: readonly PathKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out ? `.${key}` : key
    else out += `[${JSON.stringify(key)}]`
  }
  return out
}

export function formatSpecError(e: SpecError): string {
  const where =
    e.line === undefined ? '' : ` (line ${e.line}${e.column === undefined ? '' : `, column ${e.column}`})`
  return `${e.path || '(document)'}: ${e.message}${where}`
}

/**
 * `${secret:NAME}` is not valid YAML inside flow collections (`{ url: ${secret:DB} }`), so
 * references are swapped for a placeholder of the same length before parsing (lines and columns
 * stay right) and swapped back in the values afterwards.
 */
const REFERENCE = /\$\{secret:([A-Za-z_][A-Za-z0-9_]*)\}/g
const PLACEHOLDER = /__SECRET_([A-Za-z_][A-Za-z0-9_]*?)_(?![A-Za-z0-9])/g

function protectReferences(text: string): string {
  return text.replace(REFERENCE, (_, name: string) => `__SECRET_${name}_`)
}

function restoreReferences(value: unknown): unknown {
  if (typeof value === 'string')
    return value.includes('__SECRET_')
      ? value.replace(PLACEHOLDER, (_, name: string) => `\${secret:${name}}`)
      : value
  if (Array.isArray(value)) return value.map(restoreReferences)
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, restoreReferences(v)]))
  return value
}

/** Largest pipeline document, as written and as stored (canonical JSON), in bytes. */
export const MAX_SPEC_BYTES = 256 * 1024

const utf8 = new TextEncoder()

/** The error for a document over MAX_SPEC_BYTES, if it is. */
function tooLarge(text: string, what: string): SpecError | undefined {
  // Three bytes per UTF-16 unit at most: short documents need no encoding.
  if (text.length * 3 <= MAX_SPEC_BYTES) return undefined
  const bytes = utf8.encode(text).length
  if (bytes <= MAX_SPEC_BYTES) return undefined
  return {
    path: '',
    message: `the pipeline spec is ${bytes} bytes ${what}; specs may be at most ${MAX_SPEC_BYTES} bytes (256 KiB)`,
  }
}

/** Parses a pipeline written in YAML or JSON; every error names its path and line. */
export function parsePipeline(text: string): ParseResult<ParsedPipeline> {
  const big = tooLarge(text, 'as written')
  if (big) return { ok: false, errors: [big] }
  const lines = new LineCounter()
  const doc = parseDocument(protectReferences(text), {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  })
  return validateYaml(doc, lines)
}

/** Several pipelines in one YAML stream separated by `---` (as `outpost apply -f` accepts). */
export function parsePipelines(text: string): ParseResult<ParsedPipeline>[] {
  const lines = new LineCounter()
  return parseAllDocuments(protectReferences(text), {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  })
    .filter((doc) => !('empty' in doc) && doc.contents !== null)
    .map((doc) => validateYaml(doc as Doc, lines))
}

/** Validates an already-parsed value (for example a JSON request body). */
export function validatePipeline(value: unknown): ParseResult<ParsedPipeline> {
  return validateDocument(value, undefined)
}

function validateYaml(doc: Doc, lines: LineCounter): ParseResult<ParsedPipeline> {
  const syntax = syntaxErrors(doc, lines)
  if (syntax.length > 0) return { ok: false, errors: syntax }
  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (error) {
    // Only aliases make a parsed document fail to convert: one without its anchor, or so many
    // that expanding them would exhaust memory (a "billion laughs" document).
    return { ok: false, errors: [aliasError(doc, lines, error as Error)] }
  }
  return validateDocument(value, { doc, lines })
}

function aliasError(doc: Doc, lines: LineCounter, error: Error): SpecError {
  let offset = 0
  let unresolved = false
  visit(doc, {
    Alias(_, node) {
      if (node.resolve(doc) === undefined) {
        unresolved = true
        offset = node.range?.[0] ?? offset
        return visit.BREAK
      }
      if (offset === 0) offset = node.range?.[0] ?? 0
      return undefined
    },
  })
  const pos = lines.linePos(offset)
  const message = unresolved
    ? (error.message.split('\n')[0] ?? error.message)
    : 'too many alias references (*name): the document would expand beyond 100 copies of an anchor'
  return { path: '', message, line: pos.line, column: pos.col }
}

function syntaxErrors(doc: Doc, lines: LineCounter): SpecError[] {
  return doc.errors.map((e) => {
    const pos = lines.linePos(e.pos[0])
    // The YAML parser recurses per level of nesting and reports running out of stack as an error.
    const message = /call stack/i.test(e.message)
      ? 'nested too deeply to read'
      : (e.message.split('\n')[0] ?? e.message)
    return { path: '', message, line: pos.line, column: pos.col }
  })
}

function validateDocument(
  value: unknown,
  source: { doc: Doc; lines: LineCounter } | undefined,
): ParseResult<ParsedPipeline> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      ok: false,
      errors: [
        {
          path: '',
          message: 'expected a Pipeline document: an object with apiVersion, kind, metadata and spec',
          line: 1,
        },
      ],
    }
  }
  const shape = shapeProblem(value)
  if (shape) {
    const e: RawError = { path: formatPath(shape.path), rawPath: shape.path, message: shape.message }
    const { rawPath: _, ...located } = source ? { ...e, ...locate(source.doc, source.lines, e) } : e
    return { ok: false, errors: [located] }
  }
  // Secret references were swapped for placeholders in YAML text only.
  if (source) value = restoreReferences(value)
  const result = pipelineSchema.safeParse(value)
  if (result.success) {
    const canonical = canonicalJson(value)
    const big = tooLarge(canonical, 'as JSON')
    if (big) return { ok: false, errors: [big] }
    return { ok: true, value: { pipeline: result.data, canonical } }
  }
  const errors = result.error.issues.flatMap((issue) => describeIssue(issue, [], value))
  const located = errors.map((e) => (source ? { ...e, ...locate(source.doc, source.lines, e) } : e))
  return { ok: false, errors: located.map(({ rawPath: _, ...e }) => e) }
}

/** Deeper than any real spec. */
const MAX_DEPTH = 64

/**
 * A value nested deeper than MAX_DEPTH, or one that contains itself (a YAML anchor whose alias is
 * inside it), found without recursion: the code that walks a document recurses per level.
 */
function shapeProblem(root: unknown): { path: PathKey[]; message: string } | undefined {
  const stack: { value: unknown; path: PathKey[]; parents: object[] }[] = [
    { value: root, path: [], parents: [] },
  ]
  while (stack.length > 0) {
    const { value, path, parents } = stack.pop() as (typeof stack)[number]
    if (value === null || typeof value !== 'object') continue
    if (parents.includes(value)) return { path, message: 'contains itself (an alias inside its own anchor)' }
    if (path.length >= MAX_DEPTH) return { path, message: `nested more than ${MAX_DEPTH} levels deep` }
    const within = [...parents, value]
    const list = Array.isArray(value)
    for (const [k, v] of Object.entries(value))
      stack.push({ value: v, path: [...path, list ? Number(k) : k], parents: within })
  }
  return undefined
}

interface RawError extends SpecError {
  rawPath: PathKey[]
  /** True when the error is about a key itself (unknown field), so the line is the key's. */
  atKey?: boolean
}

const TRANSFORM_NAMES = transformSpecs.map((t) => t.name) as readonly string[]

function describeIssue(issue: z.core.$ZodIssue, prefix: PathKey[], root: unknown): RawError[] {
  const path = [...prefix, ...(issue.path as PathKey[])]
  const input = valueAt(root, path)
  const at = (message: string, p: PathKey[] = path, atKey = false): RawError => ({
    path: formatPath(p),
    rawPath: p,
    message,
    ...(atKey ? { atKey } : {}),
  })
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => at('unknown field', [...path, key], true))
    case 'invalid_type':
      if (input === undefined) return [at('required')]
      return [at(`expected ${issue.expected}, got ${describeType(input)}`)]
    case 'invalid_value':
      if (input === undefined) return [at('required')]
      return [
        at(
          `expected ${issue.values.length === 1 ? '' : 'one of '}${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(input)}`,
        ),
      ]
    case 'invalid_union': {
      if (issue.discriminator !== undefined) {
        const options = ((issue as { options?: unknown[] }).options ?? [])
          .map((v) => JSON.stringify(v))
          .join(', ')
        if (input === undefined) return [at(`required: one of ${options}`)]
        return [at(`unknown ${issue.discriminator} ${JSON.stringify(input)}: expected one of ${options}`)]
      }
      if (isTransformPath(path)) return describeTransform(issue, path, input, root)
      // Otherwise report the alternative that got furthest (fewest issues).
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0]
      if (best && best.length > 0 && !(input !== null && typeof input !== 'object')) {
        return best.flatMap((inner) => describeIssue(inner, path, root))
      }
      return [
        at(issue.message === 'Invalid input' ? `invalid value ${JSON.stringify(input)}` : issue.message),
      ]
    }
    case 'too_small':
      if (issue.origin === 'array' && Number(issue.minimum) === 1)
        return [at(issue.message.startsWith('Too small') ? 'must not be empty' : issue.message)]
      if (issue.origin === 'string')
        return [
          at(
            Number(issue.minimum) === 1
              ? 'must not be empty'
              : `must be at least ${issue.minimum} characters`,
          ),
        ]
      return [at(issue.message.startsWith('Too small') ? `must be at least ${issue.minimum}` : issue.message)]
    case 'too_big':
      return [at(issue.message.startsWith('Too big') ? `must be at most ${issue.maximum}` : issue.message)]
    default:
      return [at(issue.message)]
  }
}

function isTransformPath(path: PathKey[]): boolean {
  return path.length === 3 && path[0] === 'spec' && path[1] === 'transforms' && typeof path[2] === 'number'
}

/** A transform is a one-key object; report the problems of the one it names, not of every alternative. */
function describeTransform(
  issue: z.core.$ZodIssueInvalidUnion,
  path: PathKey[],
  input: unknown,
  root: unknown,
): RawError[] {
  const here = (message: string): RawError[] => [{ path: formatPath(path), rawPath: path, message }]
  const names = TRANSFORM_NAMES.join(', ')
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return here(`expected a transform such as { rename: {...} }: one of ${names}`)
  }
  const keys = Object.keys(input)
  if (keys.length !== 1)
    return here(
      `a transform has exactly one key (one of ${names}); found ${keys.length === 0 ? 'none' : keys.join(', ')}`,
    )
  const name = keys[0] as string
  const index = TRANSFORM_NAMES.indexOf(name)
  if (index < 0)
    return [
      {
        path: formatPath([...path, name]),
        rawPath: [...path, name],
        message: `unknown transform: expected one of ${names}`,
        atKey: true,
      },
    ]
  return (issue.errors[index] ?? []).flatMap((inner) => describeIssue(inner, path, root))
}

function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'an object'
  // JSON.stringify writes Infinity and NaN (YAML .inf, 1e400) as null.
  if (typeof value === 'number') return `number ${value}`
  return `${typeof value} ${JSON.stringify(value)}`
}

function valueAt(root: unknown, path: readonly PathKey[]): unknown {
  let current: unknown = root
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<PathKey, unknown>)[key]
  }
  return current
}

/** The line of the deepest node that exists along the error's path (the key itself for unknown fields). */
function locate(doc: Doc, lines: LineCounter, e: RawError): { line?: number; column?: number } {
  let node: unknown = doc.contents
  let offset = (node as Node | null)?.range?.[0]
  for (let i = 0; i < e.rawPath.length; i++) {
    const key = e.rawPath[i] as PathKey
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key)
      if (!pair) break
      const last = i === e.rawPath.length - 1
      const keyNode = pair.key as Node
      offset = keyNode.range?.[0] ?? offset
      if (last && e.atKey) break
      node = pair.value
      if (!last) continue
      offset = (node as Node | null)?.range?.[0] ?? offset
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key]
      if (!node) break
      offset = (node as Node).range?.[0] ?? offset
    } else {
      break
    }
  }
  if (offset === undefined) return {}
  const pos = lines.linePos(offset)
  return { line: pos.line, column: pos.col }
}

/** JSON with object keys sorted at every level, so equal documents have equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key])
    return out
  }
  return value
}
