import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { fuzzBudget, fuzzTimeout } from '../../../test/helpers/fuzz.js'
import { countByte, headHash, lastRecordBoundary, listFiles, planRead, readChunks } from './files.js'

const dir = mkdtempSync(join(tmpdir(), 'outpost-files-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const Q = 34
const bytes = (s: string) => new TextEncoder().encode(s)

describe('record boundaries', () => {
  it('cuts after the last newline outside quotes', () => {
    expect(lastRecordBoundary(bytes('a,b\nc,d\ne'), Q, Q)).toBe(8)
    expect(lastRecordBoundary(bytes('a,"b\nc"\nd,"e\nf'), Q, Q)).toBe(8)
    expect(lastRecordBoundary(bytes('a,"b""\nc"'), Q, Q)).toBe(-1)
    expect(lastRecordBoundary(bytes('no newline'), Q, Q)).toBe(-1)
    expect(lastRecordBoundary(bytes('x\n'), Q, Q)).toBe(2)
    // With a backslash escape, \" does not end the quoted field.
    expect(lastRecordBoundary(bytes('a,"b\\"\nc"\nd'), Q, 92)).toBe(10)
  })

  /** The boundary byte by byte: each quote toggles, a newline outside quotes is a boundary. */
  function slowBoundary(buf: Uint8Array): number {
    let inQuote = false
    let boundary = -1
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] === Q) inQuote = !inQuote
      else if (buf[i] === 10 && !inQuote) boundary = i + 1
    }
    return boundary
  }

  it(
    'finds the boundary a byte-by-byte scan finds, at any alignment (quotes counted four bytes at a time)',
    () => {
      const text = fc.array(fc.constantFrom(Q, Q, 10, 44, 97, 0xa2, 0x23, 0x21, 0), { maxLength: 200 })
      fc.assert(
        fc.property(text, fc.nat({ max: 7 }), (content, shift) => {
          // The same bytes at another offset in their buffer: the word loop must not depend on it.
          const buf = new Uint8Array(content.length + shift)
          buf.set(content, shift)
          const view = buf.subarray(shift)
          expect(lastRecordBoundary(view, Q, Q)).toBe(slowBoundary(view))
          const from = Math.min(shift, view.length)
          expect(countByte(view, from, view.length, Q)).toBe(
            view.subarray(from).filter((b) => b === Q).length,
          )
        }),
        fuzzBudget(2000),
      )
    },
    fuzzTimeout(),
  )

  it('reads a file in chunks that end at record boundaries and resume from an offset', async () => {
    const lines = ['id,text']
    for (let i = 0; i < 2000; i++) lines.push(i % 10 === 0 ? `${i},"multi\nline ${i}"` : `${i},plain ${i}`)
    const text = `${lines.join('\n')}\n`
    const path = join(dir, 'big.csv')
    writeFileSync(path, text)
    const chunks: string[] = []
    const ends: number[] = []
    for await (const c of readChunks(
      path,
      0,
      4096,
      (b) => lastRecordBoundary(b, Q, Q),
      new AbortController().signal,
    )) {
      chunks.push(Buffer.from(c.bytes).toString())
      ends.push(c.end)
      expect(c.bytes.byteOffset).toBe(0)
    }
    expect(chunks.join('')).toBe(text)
    expect(chunks.length).toBeGreaterThan(5)
    for (const c of chunks) expect((c.match(/"/g) ?? []).length % 2).toBe(0)
    // Resuming from the end of the third chunk gives exactly the rest.
    let rest = ''
    for await (const c of readChunks(
      path,
      ends[2]!,
      4096,
      (b) => lastRecordBoundary(b, Q, Q),
      new AbortController().signal,
    ))
      rest += Buffer.from(c.bytes).toString()
    expect(chunks.slice(0, 3).join('') + rest).toBe(text)
  })

  it('reads a smaller first chunk when asked, also when its first record is longer, plain or gzip', async () => {
    const header = `${'h'.repeat(3000)}\n`
    const rows = Array.from({ length: 20_000 }, (_, i) => `${i},row ${i}\n`).join('')
    const text = header + rows
    writeFileSync(join(dir, 'first.csv'), text)
    writeFileSync(join(dir, 'first.csv.gz'), gzipSync(text))
    for (const [name, firstBytes] of [
      ['first.csv', 1024],
      ['first.csv.gz', 1024],
      ['first.csv', 8192],
    ] as const) {
      const sizes: number[] = []
      let all = ''
      for await (const c of readChunks(
        join(dir, name),
        0,
        32_768,
        (b) => lastRecordBoundary(b, Q, Q),
        new AbortController().signal,
        'auto',
        firstBytes,
      )) {
        sizes.push(c.bytes.length)
        all += Buffer.from(c.bytes).toString()
      }
      expect(all).toBe(text)
      expect(sizes[0]).toBeGreaterThanOrEqual(header.length)
      // A first chunk that fits its first record ends soon (gzip: within the first 16 KiB that
      // zlib hands over); one that does not reads on in full chunks. The others are full size.
      if (firstBytes > header.length) expect(sizes[0]).toBeLessThanOrEqual(firstBytes)
      if (name.endsWith('.gz')) expect(sizes[0]).toBeLessThan(16_384)
      for (const size of sizes.slice(1, -1)) expect(size).toBeGreaterThan(32_768 - 32)
    }
  })

  it('keeps a final record without a newline and handles an empty file', async () => {
    writeFileSync(join(dir, 'tail.csv'), 'a\n1\n2')
    let all = ''
    for await (const c of readChunks(
      join(dir, 'tail.csv'),
      0,
      2,
      (b) => lastRecordBoundary(b, Q, Q),
      new AbortController().signal,
    ))
      all += Buffer.from(c.bytes).toString()
    expect(all).toBe('a\n1\n2')
    writeFileSync(join(dir, 'empty.csv'), '')
    const none = []
    for await (const c of readChunks(
      join(dir, 'empty.csv'),
      0,
      64,
      (b) => lastRecordBoundary(b, Q, Q),
      new AbortController().signal,
    ))
      none.push(c)
    expect(none).toEqual([])
  })
})

describe('files read once', () => {
  it('lists a glob oldest first and reports a missing file clearly', async () => {
    const sub = mkdtempSync(join(dir, 'glob-'))
    writeFileSync(join(sub, 'b.csv'), 'x')
    writeFileSync(join(sub, 'a.csv'), 'x')
    writeFileSync(join(sub, 'c.txt'), 'x')
    const files = await listFiles(join(sub, '*.csv'))
    expect(files.map((f) => f.path.split('/').pop()).sort()).toEqual(['a.csv', 'b.csv'])
    expect(await listFiles(join(sub, 'none-*.csv'))).toEqual([])
    await expect(listFiles(join(sub, 'missing.csv'))).rejects.toThrow(/file not found: .*missing\.csv/)
  })

  it('skips unchanged files, resumes partial ones, reads appended bytes, restarts replaced ones', async () => {
    const path = join(dir, 'plan.csv')
    writeFileSync(path, 'a\n1\n2\n')
    const [file] = await listFiles(path)
    const cursor = {
      size: file!.size,
      mtimeMs: file!.mtimeMs,
      headHash: await headHash(path, 6),
      headBytes: 6,
      offset: 6,
      records: 2,
      done: true,
    }
    expect(await planRead(file!, undefined)).toMatchObject({ action: 'read', offset: 0 })
    expect(await planRead(file!, cursor)).toEqual({ action: 'skip' })
    expect(await planRead(file!, { ...cursor, offset: 4, done: false })).toMatchObject({
      action: 'read',
      offset: 4,
      reason: 'resume',
    })
    writeFileSync(path, 'a\n1\n2\n3\n')
    const [grown] = await listFiles(path)
    expect(await planRead(grown!, cursor)).toMatchObject({
      action: 'read',
      offset: 6,
      records: 2,
      reason: 'appended',
    })
    writeFileSync(path, 'b\n9\n9\n9\n')
    const [replaced] = await listFiles(path)
    expect(await planRead(replaced!, cursor)).toMatchObject({ action: 'read', offset: 0, reason: 'replaced' })
  })
})
