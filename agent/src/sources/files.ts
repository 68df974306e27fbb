/**
 * What file sources share: expanding a path or glob, recognising files already read (path, size,
 * mtime and a hash of the first 64 KiB), and reading a file in chunks cut at record boundaries so
 * that each chunk can be parsed on its own and a restart resumes mid-file.
 */
import { createHash } from 'node:crypto'
import { constants, createReadStream, promises as fs } from 'node:fs'
import { resolve } from 'node:path'
import { createGunzip, gunzipSync } from 'node:zlib'
import { SourceError } from '@outpost/shared'
import { glob, isDynamicPattern } from 'tinyglobby'
import type { FileRoots } from '../file-roots.js'
import type { SkippedInput, SourceReader } from './types.js'

export interface FileCursor {
  size: number
  mtimeMs: number
  /** sha256 of the first `headBytes` bytes: tells an appended file from a replaced one. */
  headHash: string
  headBytes: number
  /** Bytes of the file committed so far. */
  offset: number
  records: number
  done: boolean
  /** Source-specific state needed to resume mid-file (the CSV header). */
  state?: unknown
}

export interface FileInfo {
  path: string
  size: number
  mtimeMs: number
}

const HEAD_BYTES = 65536
export const MAX_RECORD_BYTES = 64 * 1024 * 1024

/** How a file source may reach files: the agent's file_roots, and where to report a file left out. */
export interface FileAccess {
  fileRoots?: FileRoots | undefined
  skipped?: ((skip: SkippedInput) => void) | undefined
}

/**
 * The files a path or glob matches. With file_roots, a path outside them is refused, and a match
 * whose real path (symbolic links resolved) is outside them is left out and reported.
 */
export async function listFiles(pattern: string, access: FileAccess = {}): Promise<FileInfo[]> {
  const absolute = resolve(pattern)
  const roots = access.fileRoots
  const refused = roots?.refusal('source path', pattern)
  if (refused) throw new SourceError(refused, false)
  let paths: string[]
  if (isDynamicPattern(pattern)) {
    paths = await glob(absolute, {
      absolute: true,
      onlyFiles: true,
      followSymbolicLinks: true,
      expandDirectories: false,
    })
  } else {
    try {
      const st = await fs.stat(absolute)
      if (!st.isFile()) throw new SourceError(`${absolute} is not a file`, false)
    } catch (error) {
      if (error instanceof SourceError) throw error
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') throw new SourceError(`file not found: ${absolute}`, false, { cause: error })
      throw new SourceError(`cannot read ${absolute}: ${(error as Error).message}`, false, { cause: error })
    }
    paths = [absolute]
  }
  const infos: FileInfo[] = []
  for (const path of paths) {
    const outside = await roots?.realRefusal('source file', path)
    if (outside) {
      // A file named on its own is the whole source: refused. A glob's other matches go on.
      if (!isDynamicPattern(pattern)) throw new SourceError(outside, false)
      access.skipped?.({ source: path, code: 'outside_file_roots', reason: outside })
      continue
    }
    try {
      const st = await fs.stat(path)
      infos.push({ path, size: st.size, mtimeMs: st.mtimeMs })
    } catch {
      // Vanished between listing and stat: it will be picked up (or not) on the next run.
    }
  }
  // Oldest first, so a drop folder is processed in arrival order.
  return infos.sort((a, b) => a.mtimeMs - b.mtimeMs || a.path.localeCompare(b.path))
}

export function headLength(size: number): number {
  return Math.min(size, HEAD_BYTES)
}

export async function headHash(path: string, length: number): Promise<string> {
  const handle = await fs.open(path, constants.O_RDONLY)
  try {
    const buf = Buffer.alloc(length)
    const { bytesRead } = await handle.read(buf, 0, length, 0)
    return createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex')
  } finally {
    await handle.close()
  }
}

export type ReadPlan =
  | { action: 'skip' }
  | { action: 'read'; offset: number; records: number; state?: unknown; reason: string }

/**
 * Decides where to start reading a file given its cursor: skip it when nothing changed, resume
 * (or read what was appended) when its first bytes are as before, start over when it was replaced.
 */
export async function planRead(
  file: FileInfo,
  cursor: FileCursor | undefined,
  compressed = false,
): Promise<ReadPlan> {
  if (!cursor) return { action: 'read', offset: 0, records: 0, reason: 'new' }
  if (cursor.done && file.size === cursor.size && file.mtimeMs === cursor.mtimeMs) return { action: 'skip' }
  const sameHead =
    file.size >= cursor.headBytes && (await headHash(file.path, cursor.headBytes)) === cursor.headHash
  // Offsets in a compressed file count uncompressed bytes: it resumes, but is never "appended to".
  if (compressed) {
    if (sameHead && !cursor.done && file.size === cursor.size) {
      return {
        action: 'read',
        offset: cursor.offset,
        records: cursor.records,
        state: cursor.state,
        reason: 'resume',
      }
    }
    return { action: 'read', offset: 0, records: 0, reason: 'replaced' }
  }
  if (sameHead && file.size >= cursor.offset) {
    if (file.size === cursor.offset) return { action: 'skip' }
    return {
      action: 'read',
      offset: cursor.offset,
      records: cursor.records,
      state: cursor.state,
      reason: cursor.done ? 'appended' : 'resume',
    }
  }
  return { action: 'read', offset: 0, records: 0, reason: 'replaced' }
}

/**
 * Index just past the last newline that is outside quotes, or -1. Quotes preceded by a distinct
 * escape byte do not count.
 */
export function lastRecordBoundary(buf: Uint8Array, quote: number, escapeByte: number): number {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  if (escapeByte !== quote) return lastEscapedBoundary(bytes, quote, escapeByte)
  // Quotes escaped by doubling: a newline is outside quotes when the quotes before it are even.
  let nl = bytes.lastIndexOf(10)
  if (nl < 0) return -1
  let odd = (countByte(bytes, 0, nl, quote) & 1) === 1
  while (odd) {
    if (nl === 0) return -1
    const before = bytes.lastIndexOf(10, nl - 1)
    if (before < 0) return -1
    if ((countByte(bytes, before, nl, quote) & 1) === 1) odd = false
    nl = before
  }
  return nl + 1
}

/** How many bytes of buf[from, to) are `value`, four at a time. */
export function countByte(buf: Uint8Array, from: number, to: number, value: number): number {
  let count = 0
  let i = from
  // Bytes up to a 4-byte aligned address, then whole words, then the rest.
  while (i < to && (buf.byteOffset + i) % 4 !== 0) if (buf[i++] === value) count++
  const words = Math.floor((to - i) / 4)
  if (words > 0) {
    const view = new Uint32Array(buf.buffer, buf.byteOffset + i, words)
    const pattern = Math.imul(value, 0x01010101)
    for (let w = 0; w < words; w++) {
      // Zero bytes of x are the matches; 0x80 marks each of them exactly (no borrow between bytes).
      const x = view[w]! ^ pattern
      const zeros = ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f)
      count += Math.imul((zeros >>> 7) & 0x01010101, 0x01010101) >>> 24
    }
    i += words * 4
  }
  while (i < to) if (buf[i++] === value) count++
  return count
}

function lastEscapedBoundary(bytes: Buffer, quote: number, escapeByte: number): number {
  let inQuote = false
  let pos = 0
  let boundary = -1
  for (;;) {
    const q = bytes.indexOf(quote, pos)
    const segmentEnd = q < 0 ? bytes.length : q
    if (!inQuote && segmentEnd > pos) {
      const nl = bytes.lastIndexOf(10, segmentEnd - 1)
      if (nl >= pos) boundary = nl + 1
    }
    if (q < 0) break
    if (q > 0 && bytes[q - 1] === escapeByte) {
      pos = q + 1
      continue
    }
    inQuote = !inQuote
    pos = q + 1
  }
  return boundary
}

export interface FileChunk {
  bytes: Uint8Array
  /** File offset where the chunk starts and ends. */
  start: number
  end: number
  eof: boolean
}

export type Compression = 'auto' | 'none' | 'gzip'

export function isGzip(path: string, compression: Compression): boolean {
  return compression === 'gzip' || (compression === 'auto' && path.endsWith('.gz'))
}

/**
 * Reads a file from `offset` in chunks of about `chunkBytes`, each ending at a record boundary
 * (or the end of the file). Each chunk owns its ArrayBuffer, so it can be transferred. Offsets of
 * gzip files count uncompressed bytes; resuming one decompresses again up to the offset.
 * `firstChunkBytes` makes the first chunk smaller: one that must be decoded before any other (a
 * CSV header) then comes back soon, and the next chunks go to the workers together.
 */
export function readChunks(
  path: string,
  offset: number,
  chunkBytes: number,
  boundary: (buf: Uint8Array) => number,
  signal: AbortSignal,
  compression: Compression = 'none',
  firstChunkBytes = chunkBytes,
): AsyncGenerator<FileChunk> {
  const sizes = { first: Math.min(firstChunkBytes, chunkBytes), rest: chunkBytes }
  if (isGzip(path, compression)) return streamChunks(path, offset, sizes, boundary, signal)
  return fileChunks(path, offset, sizes, boundary, signal)
}

interface ChunkSizes {
  first: number
  rest: number
}

async function* streamChunks(
  path: string,
  offset: number,
  sizes: ChunkSizes,
  boundary: (buf: Uint8Array) => number,
  signal: AbortSignal,
): AsyncGenerator<FileChunk> {
  const input = createReadStream(path).pipe(createGunzip())
  let parts: Buffer[] = []
  let size = 0
  let skip = offset
  let position = offset
  let want = sizes.first
  const take = (cut: number): FileChunk => {
    const all = Buffer.concat(parts, size)
    const chunk = new Uint8Array(new ArrayBuffer(cut))
    chunk.set(all.subarray(0, cut))
    const rest = Buffer.from(all.subarray(cut))
    parts = rest.length ? [rest] : []
    size = rest.length
    const piece = { bytes: chunk, start: position, end: position + cut, eof: false }
    position += cut
    return piece
  }
  try {
    for await (const data of input as AsyncIterable<Buffer>) {
      if (signal.aborted) return
      let buf = data
      if (skip > 0) {
        const dropped = Math.min(skip, buf.length)
        skip -= dropped
        buf = buf.subarray(dropped)
        if (buf.length === 0) continue
      }
      parts.push(buf)
      size += buf.length
      if (size >= want) {
        // Past the first attempt, a record longer than the first chunk is read in full chunks.
        want = sizes.rest
        const all = Buffer.concat(parts, size)
        parts = [all]
        const cut = boundary(all)
        if (cut > 0) yield take(cut)
        else if (size > MAX_RECORD_BYTES)
          throw new SourceError(
            `${path}: a record longer than ${MAX_RECORD_BYTES} bytes (an unclosed quote?)`,
            false,
          )
      }
    }
  } catch (error) {
    if (error instanceof SourceError) throw error
    throw new SourceError(`cannot read ${path} as gzip: ${(error as Error).message}`, false, { cause: error })
  }
  if (size > 0) {
    const last = take(size)
    yield { ...last, eof: true }
  }
}

async function* fileChunks(
  path: string,
  offset: number,
  sizes: ChunkSizes,
  boundary: (buf: Uint8Array) => number,
  signal: AbortSignal,
): AsyncGenerator<FileChunk> {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(path, constants.O_RDONLY)
  } catch (error) {
    throw new SourceError(
      `cannot open ${path}: ${(error as Error).message}`,
      (error as NodeJS.ErrnoException).code !== 'ENOENT',
      { cause: error },
    )
  }
  try {
    let carry: Buffer = Buffer.alloc(0)
    let position = offset
    let chunkStart = offset
    let eof = false
    let want = sizes.first
    while (!eof) {
      if (signal.aborted) return
      const block = Buffer.allocUnsafeSlow(carry.length + want)
      want = sizes.rest
      carry.copy(block, 0)
      let filled = carry.length
      while (filled < block.length) {
        const { bytesRead } = await handle.read(block, filled, block.length - filled, position)
        if (bytesRead === 0) {
          eof = true
          break
        }
        filled += bytesRead
        position += bytesRead
      }
      if (filled === 0) return
      let cut = eof ? filled : boundary(block.subarray(0, filled))
      if (cut <= 0) {
        if (filled > MAX_RECORD_BYTES) {
          throw new SourceError(
            `${path}: a record longer than ${MAX_RECORD_BYTES} bytes starts at byte ${chunkStart} (an unclosed quote?)`,
            false,
          )
        }
        carry = block.subarray(0, filled)
        continue
      }
      if (cut > filled) cut = filled
      carry = Buffer.from(block.subarray(cut, filled))
      const chunk = new Uint8Array(block.buffer, block.byteOffset, cut)
      yield { bytes: chunk, start: chunkStart, end: chunkStart + cut, eof: eof && carry.length === 0 }
      chunkStart += cut
    }
  } finally {
    await handle.close()
  }
}

export const MAX_WHOLE_FILE_BYTES = 512 * 1024 * 1024

export interface FileReaderSpec {
  path: string
  compression?: Compression
  /** Where records end in a buffer (newline-delimited formats); without it each file is one chunk. */
  boundary?: (buf: Uint8Array) => number
}

/**
 * A reader for file sources: every file the path matches, once; newline-delimited formats in
 * chunks that resume mid-file, whole-document formats (JSON, Parquet, Excel) as one chunk.
 */
export function fileReader(
  spec: FileReaderSpec,
  context: FileAccess & {
    cursors: { get(key: (string | number)[]): unknown }
    chunkBytes: number
    log: { debug(msg: string, fields?: Record<string, unknown>): void }
  },
): SourceReader {
  return {
    async *chunks(signal) {
      for (const file of await listFiles(spec.path, context)) {
        if (signal.aborted) return
        const key = ['file', file.path]
        const cursor = context.cursors.get(key) as FileCursor | undefined
        const gzip = isGzip(file.path, spec.compression ?? 'none')
        const plan = await planRead(file, cursor, gzip || !spec.boundary)
        if (plan.action === 'skip') continue
        const resumed = plan.offset > 0 ? (cursor as FileCursor) : undefined
        const headBytes = resumed ? resumed.headBytes : headLength(file.size)
        const hash = resumed ? resumed.headHash : await headHash(file.path, headBytes)
        context.log.debug('reading file', { path: file.path, from: plan.offset, reason: plan.reason })
        const cursorAt = (offset: number, done: boolean) => (after: { records: number }) => [
          {
            key,
            value: {
              size: file.size,
              mtimeMs: file.mtimeMs,
              headHash: hash,
              headBytes,
              offset,
              records: after.records,
              done,
            } satisfies FileCursor,
          },
        ]
        if (!spec.boundary) {
          const bytes = await readWhole(file.path, file.size, gzip)
          yield {
            bytes,
            decodeState: { first: true },
            label: file.path,
            bytesRead: file.size,
            recordBase: 0,
            cursor: cursorAt(file.size, true),
          }
          continue
        }
        let first = true
        for await (const piece of readChunks(
          file.path,
          plan.offset,
          context.chunkBytes,
          spec.boundary,
          signal,
          spec.compression ?? 'none',
        )) {
          yield {
            bytes: piece.bytes,
            decodeState: { first: piece.start === 0 },
            label: file.path,
            bytesRead: piece.end - piece.start,
            ...(first ? { recordBase: plan.records } : {}),
            cursor: cursorAt(piece.end, gzip ? piece.eof : piece.end >= file.size),
          }
          first = false
        }
      }
    },
    async close() {},
  }
}

async function readWhole(path: string, size: number, gzip: boolean): Promise<Uint8Array> {
  if (size > MAX_WHOLE_FILE_BYTES)
    throw new SourceError(
      `${path} is ${size} bytes; documents of this format are read whole and may be at most ${MAX_WHOLE_FILE_BYTES} bytes`,
      false,
    )
  let data: Buffer
  try {
    data = await fs.readFile(path)
    if (gzip) data = gunzipSync(data, { maxOutputLength: MAX_WHOLE_FILE_BYTES })
  } catch (error) {
    throw new SourceError(`cannot read ${path}: ${(error as Error).message}`, false, { cause: error })
  }
  const out = new Uint8Array(new ArrayBuffer(data.length))
  out.set(data)
  return out
}

/** Index just past the last newline, or -1. */
export function lastNewline(buf: Uint8Array): number {
  const at = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).lastIndexOf(10)
  return at < 0 ? -1 : at + 1
}

/** Test for file sources: which files the path matches right now. */
export async function checkFiles(path: string, access: FileAccess = {}): Promise<string> {
  const files = await listFiles(path, access)
  const bytes = files.reduce((n, f) => n + f.size, 0)
  return files.length === 0
    ? `no file matches ${path} yet`
    : `${files.length} file(s) match ${path} (${bytes} bytes)`
}
