import { randomBytes } from 'node:crypto'
import { promises as fs, constants as fsConstants } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileSinkSpec, SinkError } from '@outpost/shared'
import { jsonValue, type RowBatch } from '@outpost/shared/batch'
import type * as z from 'zod'
import { encodeParquet } from '../db/parquet.js'
import { encodeCsvBytes } from './csv-encode.js'
import { defineSink, type SinkBatch } from './types.js'

type FileSinkOptions = z.output<typeof fileSinkSpec.schema>

const encoder = new TextEncoder()
const PERMANENT_FS_ERRORS = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EISDIR',
  'EEXIST',
  'ENAMETOOLONG',
])

export function encodeNdjson(batch: RowBatch): string {
  let out = ''
  for (const row of batch.rows) {
    const obj: Record<string, unknown> = {}
    batch.columns.forEach((c, i) => {
      obj[c.name] = jsonValue(row[i]!, c.type)
    })
    out += `${JSON.stringify(obj)}\n`
  }
  return out
}

export function fileNameFor(options: FileSinkOptions, batch: SinkBatch): string {
  const values: Record<string, string> = {
    pipeline: batch.pipeline,
    run: batch.runId,
    seq: String(batch.seq).padStart(6, '0'),
    agent: batch.agentId,
    date: new Date(batch.createdAt).toISOString().slice(0, 10),
    ext: options.format,
  }
  return options.file_name.replace(/\{(\w+)\}/g, (whole: string, name: string) => values[name] ?? whole)
}

export const fileSink = defineSink<FileSinkOptions>({
  spec: fileSinkSpec,
  delivery: 'local',
  open(options, context) {
    const root = resolve(options.path)
    return {
      async write(batch) {
        const target = join(root, fileNameFor(options, batch))
        // Checked on every write: a directory may become a symbolic link after the last one.
        const outside = await context.fileRoots?.realRefusal('file sink path', dirname(target))
        if (outside) throw new SinkError(outside, false)
        const bytes = batch.payload
        const temp = join(dirname(target), `.${randomBytes(6).toString('hex')}.tmp`)
        try {
          await fs.mkdir(dirname(target), { recursive: true })
          // Same batch id → same file name: a redelivered batch replaces its own file, never adds rows.
          await fs.writeFile(temp, bytes)
          await fs.rename(temp, target)
        } catch (error) {
          await fs.rm(temp, { force: true }).catch(() => {})
          const code = (error as NodeJS.ErrnoException).code ?? ''
          // A full disk may free up; a read-only or mistyped path will not fix itself.
          throw new SinkError(
            `file sink: cannot write under ${root}: ${(error as Error).message}`,
            !PERMANENT_FS_ERRORS.has(code),
            { cause: error },
          )
        }
      },
      async close() {},
    }
  },
  async check(options, context) {
    const root = resolve(options.path)
    const outside = await context.fileRoots?.realRefusal('file sink path', root)
    if (outside) throw new SinkError(outside, false)
    try {
      await fs.mkdir(root, { recursive: true })
      await fs.access(root, fsConstants.W_OK)
    } catch (error) {
      throw new SinkError(`file sink: cannot write under ${root}: ${(error as Error).message}`, false)
    }
    return `${root} is writable`
  },
  encode(options, batch) {
    if (options.format === 'parquet') return new Uint8Array(encodeParquet(batch.columns, batch.rows))
    if (options.format === 'ndjson') return encoder.encode(encodeNdjson(batch))
    return encodeCsvBytes(batch)
  },
})
