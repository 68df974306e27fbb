/** What the database sources share: the incremental query, the cursor, cutting a text stream into chunks. */
import type { Column } from '@outpost/shared/batch'
import type { LastCursor, TypedTextState } from './typed-text.js'
import type { CursorWrite, DecodedSummary, SourceChunk } from './types.js'

export interface DatabaseSourceOptions {
  table?: string | undefined
  query?: string | undefined
  cursor?: { column: string; key?: string | undefined; initial?: string | undefined } | undefined
  batch_rows: number
}

export interface CursorPosition {
  value: string
  key: string | null
}

export const CURSOR_KEY = ['db', 'cursor']

/** Where this run starts: after the committed cursor, or after `initial` on the first run. */
export function startPosition(
  options: DatabaseSourceOptions,
  committed: unknown,
): CursorPosition | undefined {
  const c = committed as CursorPosition | undefined
  if (c && typeof c.value === 'string') return c
  if (options.cursor?.initial !== undefined) return { value: options.cursor.initial, key: null }
  return undefined
}

export interface Dialect {
  ident(name: string): string
  literal(value: string): string
}

/** The SELECT a run executes, with the cursor filter and order. */
export function incrementalQuery(
  options: DatabaseSourceOptions,
  start: CursorPosition | undefined,
  d: Dialect,
): string {
  const { cursor } = options
  const base = options.table
    ? `SELECT * FROM ${options.table.split('.').map(d.ident).join('.')}`
    : (options.query as string).trim().replace(/;$/, '')
  if (!cursor) return base
  if (options.query?.includes(':cursor'))
    return base.replaceAll(':cursor', d.literal((start as CursorPosition).value))
  const c = d.ident(cursor.column)
  const k = cursor.key ? d.ident(cursor.key) : undefined
  let where = ''
  if (start) {
    where =
      k && start.key !== null
        ? ` WHERE (${c} > ${d.literal(start.value)} OR (${c} = ${d.literal(start.value)} AND ${k} > ${d.literal(start.key)}))`
        : ` WHERE ${c} > ${d.literal(start.value)}`
  }
  const source = options.table ? base : `SELECT * FROM (${base}) AS outpost_q`
  return `${source}${where} ORDER BY ${c}${k ? `, ${k}` : ''}`
}

export function typedState(columns: Column[], options: DatabaseSourceOptions): TypedTextState {
  const find = (name: string | undefined) =>
    name === undefined ? -1 : columns.findIndex((c) => c.name === name)
  const cursorIndex = find(options.cursor?.column)
  const keyIndex = find(options.cursor?.key)
  if (options.cursor && cursorIndex < 0)
    throw new Error(
      `cursor column "${options.cursor.column}" is not in the result (columns: ${columns.map((c) => c.name).join(', ')})`,
    )
  if (options.cursor?.key && keyIndex < 0)
    throw new Error(
      `cursor key "${options.cursor.key}" is not in the result (columns: ${columns.map((c) => c.name).join(', ')})`,
    )
  return { columns, ...(cursorIndex >= 0 ? { cursorIndex } : {}), ...(keyIndex >= 0 ? { keyIndex } : {}) }
}

/** A chunk of tab-separated rows, advancing the cursor to its last row when committed. */
export function textChunk(
  bytes: Uint8Array,
  label: string,
  state: TypedTextState,
  incremental: boolean,
): SourceChunk {
  return {
    bytes,
    decodeState: state,
    label,
    bytesRead: bytes.length,
    cursor: ({ decoded }: { records: number; decoded: DecodedSummary }): CursorWrite[] => {
      const last = (decoded.state as { last?: LastCursor } | undefined)?.last
      if (!incremental || !last || last.cursor === null) return []
      return [{ key: CURSOR_KEY, value: { value: last.cursor, key: last.key } satisfies CursorPosition }]
    },
  }
}

/**
 * Cuts a stream of text rows (one per line) into chunks of about `maxBytes` or `maxRows`, each
 * ending at a newline and owning its ArrayBuffer (so it can be transferred to a worker).
 */
export async function* lineChunks(
  stream: AsyncIterable<Buffer | string>,
  maxBytes: number,
  maxRows: number,
): AsyncGenerator<Uint8Array> {
  let parts: Buffer[] = []
  let size = 0
  let rows = 0
  const cut = (): Uint8Array => {
    const out = new Uint8Array(new ArrayBuffer(size))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    parts = []
    size = 0
    rows = 0
    return out
  }
  for await (const piece of stream) {
    const buf = typeof piece === 'string' ? Buffer.from(piece) : piece
    let start = 0
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, nl + 1)) {
      rows++
      if (rows >= maxRows || size + nl + 1 - start >= maxBytes) {
        parts.push(buf.subarray(start, nl + 1))
        size += nl + 1 - start
        start = nl + 1
        yield cut()
      }
    }
    if (start < buf.length) {
      parts.push(buf.subarray(start))
      size += buf.length - start
    }
  }
  if (size > 0) yield cut()
}
