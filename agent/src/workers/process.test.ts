import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fromBinary } from '@bufbuild/protobuf'
import { canonicalJson } from '@outpost/shared'
import { decodeColumns } from '@outpost/shared/batch'
import { DataBatchSchema } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import { afterAll, describe, expect, it } from 'vitest'
import { CompiledCache } from './compiled.js'
import type { BatchMeta } from './messages.js'
import { processChunk } from './process.js'

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'outpost-process-')))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const spec = (transforms: unknown[], source: Record<string, unknown> = {}) =>
  canonicalJson({
    apiVersion: 'outpost/v1',
    kind: 'Pipeline',
    metadata: { name: 'p' },
    spec: {
      source: { type: 'csv', path: 'x.csv', ...source },
      transforms,
      sinks: [
        { type: 'file', path: 'out', format: 'ndjson' },
        { type: 'central', table: 'facts' },
      ],
    },
  })

/** A chunk's metadata, as the main thread sends it, with `extra` settings. */
const meta = (extra: Partial<BatchMeta> = {}): BatchMeta => ({
  agentId: 'a',
  pipeline: 'p',
  version: 1,
  runId: 'r',
  nowMs: 0,
  maxBatchBytes: 900 * 1024,
  ...extra,
})

async function run(text: string, specJson: string, first = true, columns?: string[]) {
  const bytes = new TextEncoder().encode(text)
  return processChunk(new CompiledCache(), {
    type: 'process',
    pipelineKey: specJson,
    specJson,
    bytes,
    decodeState: { first, ...(columns ? { columns } : {}) },
    meta: {
      agentId: 'agt-1',
      pipeline: 'p',
      version: 3,
      runId: 'r1',
      nowMs: Date.UTC(2024, 5, 1),
      maxBatchBytes: 900 * 1024,
    },
  })
}

function rowsOf(batches: { bytes: Uint8Array }[]) {
  if (batches.length === 0) return { id: '', targets: [] as string[], columns: [], rows: [] }
  const message = fromBinary(DataBatchSchema, (batches[0] as { bytes: Uint8Array }).bytes)
  const decoded = decodeColumns(message.columns, message.rowCount)
  return { id: message.batchId, targets: message.targets.map((t) => t.table), ...decoded }
}

describe('processChunk', () => {
  it('parses, renames, casts and filters; bad rows are quarantined with the reason and the row as read', async () => {
    const text =
      '\ufeffid,name,amount,when\n1,Ann,10.5,2024-01-01T00:00:00Z\n2,"Bob, Jr.",-1,2024-01-02T00:00:00Z\n3,Cy,abc,2024-01-03T00:00:00Z\n4,ragged\n5,,7,2024-01-05T00:00:00Z\n'
    const result = await run(
      text,
      spec([
        { rename: { name: 'customer' } },
        { cast: { id: 'int', amount: 'decimal', when: 'timestamp' } },
        { filter: 'amount > 0.0' },
      ]),
    )
    expect(result).toMatchObject({ recordCount: 5, rowsRead: 5, rowsPassed: 2, rowsFiltered: 1 })
    expect(result.decodeState).toEqual({ first: false, columns: ['id', 'name', 'amount', 'when'] })
    const out = rowsOf(result.batches)
    // The id is appended by the main thread at commit.
    expect(out.id).toBe('')
    expect(out.targets).toEqual(['facts'])
    expect(new TextDecoder().decode(result.sinkPayloads[0] as Uint8Array).split('\n')[0]).toBe(
      '{"id":1,"customer":"Ann","amount":"10.5","when":"2024-01-01T00:00:00Z"}',
    )
    expect(result.sinkPayloads[1]).toBeNull()
    expect(out.columns).toEqual([
      { name: 'id', type: 'int' },
      { name: 'customer', type: 'string' },
      { name: 'amount', type: 'decimal' },
      { name: 'when', type: 'timestamp' },
    ])
    expect(out.rows).toEqual([
      [1, 'Ann', '10.5', 1_704_067_200_000_000],
      [5, null, '7', 1_704_412_800_000_000],
    ])
    expect(result.quarantined).toEqual([
      expect.objectContaining({
        record: 2,
        rule: 'cast',
        column: 'amount',
        value: 'abc',
        row: { id: '3', name: 'Cy', amount: 'abc', when: '2024-01-03T00:00:00Z' },
      }),
      expect.objectContaining({
        record: 3,
        rule: 'parse',
        reason: 'expected 4 fields, got 2',
        row: { _raw: '4,ragged' },
      }),
    ])
  })

  it('uses the known header for later chunks of a file and reports unparseable records', async () => {
    const result = await run('1,"unclosed\n2,x\n', spec([]), false, ['id', 'v'])
    expect(result.rowsPassed).toBe(0)
    expect(result.quarantined).toEqual([
      expect.objectContaining({ rule: 'parse', reason: expect.stringContaining('Quote Not Closed') }),
    ])
    const ok = await run('7,x\n8,y\n', spec([]), false, ['id', 'v'])
    expect(rowsOf(ok.batches).rows).toEqual([
      ['7', 'x'],
      ['8', 'y'],
    ])
  })

  it('reads files without a header, other delimiters and latin1', async () => {
    const latin1 = new Uint8Array([...Buffer.from('1;caf', 'latin1'), 0xe9, 10])
    const result = await processChunk(new CompiledCache(), {
      type: 'process',
      pipelineKey: 'k',
      specJson: spec([], { header: false, columns: ['id', 'word'], delimiter: ';', encoding: 'latin1' }),
      bytes: latin1,
      decodeState: { first: true },
      meta: meta(),
    })
    expect(rowsOf(result.batches).rows).toEqual([['1', 'café']])
  })

  it('fails the chunk with a clear message when a transform names a missing column', async () => {
    await expect(run('a,b\n1,2\n', spec([{ rename: { c: 'd' } }]))).rejects.toThrow(
      'rename: no column "c"; the columns are a, b',
    )
  })

  it('quarantines rows whose filter cannot be evaluated and keeps empty input empty', async () => {
    const result = await run('a\n1\n\n', spec([{ filter: 'a > 1' }]))
    expect(result.quarantined[0]).toMatchObject({
      rule: 'filter',
      reason: expect.stringContaining('filter "a > 1"'),
    })
    expect((await run('', spec([]))).batches).toEqual([])
    expect((await run('a,b\n', spec([]))).recordCount).toBe(0)
  })

  it('splits the rows into DataBatches that each fit the NATS message limit', async () => {
    const lines = ['id,text']
    for (let i = 0; i < 5000; i++) lines.push(`${i},${'x'.repeat(100)}`)
    const specJson = spec([])
    const result = await processChunk(new CompiledCache(), {
      type: 'process',
      pipelineKey: 'split',
      specJson,
      bytes: new TextEncoder().encode(`${lines.join('\n')}\n`),
      decodeState: { first: true },
      meta: { agentId: 'a', pipeline: 'p', version: 1, runId: 'r', nowMs: 0, maxBatchBytes: 64 * 1024 },
    })
    expect(result.batches.length).toBeGreaterThan(5)
    for (const b of result.batches) expect(b.bytes.length).toBeLessThanOrEqual(64 * 1024)
    const ids = result.batches.flatMap((b) => {
      const m = fromBinary(DataBatchSchema, b.bytes)
      expect(m.rowCount).toBe(b.rows)
      return decodeColumns(m.columns, m.rowCount).rows.map((r) => Number(r[0]))
    })
    expect(ids).toEqual(Array.from({ length: 5000 }, (_, i) => i))
  })

  it('quarantines a row no batch can carry, with its size, and keeps it from every sink', async () => {
    const big = 'y'.repeat(80 * 1024)
    const result = await processChunk(new CompiledCache(), {
      type: 'process',
      pipelineKey: 'oversized',
      specJson: spec([]),
      bytes: new TextEncoder().encode(`id,text\n1,a\n2,${big}\n3,c\n`),
      decodeState: { first: true },
      meta: { agentId: 'a', pipeline: 'p', version: 1, runId: 'r', nowMs: 0, maxBatchBytes: 64 * 1024 },
    })
    expect(result.rowsPassed).toBe(2)
    expect(result.batches.flatMap((b) => rowsOf([b]).rows)).toEqual([
      ['1', 'a'],
      ['3', 'c'],
    ])
    for (const b of result.batches) expect(b.bytes.length).toBeLessThanOrEqual(64 * 1024)
    // The file sink gets the same rows as the central one.
    expect(
      new TextDecoder()
        .decode(result.sinkPayloads[0] as Uint8Array)
        .trim()
        .split('\n'),
    ).toHaveLength(2)
    expect(result.quarantined).toEqual([
      expect.objectContaining({
        record: 1,
        rule: 'max_batch_bytes',
        reason: expect.stringMatching(
          /^the row encodes to \d+ bytes, more than a batch to the control plane may hold \(65536 bytes\)$/,
        ),
        row: { id: '2', text: big },
      }),
    ])
  })

  it('quarantines rows over the row limits before the transforms, the rest goes on', async () => {
    const result = await processChunk(new CompiledCache(), {
      type: 'process',
      pipelineKey: 'limits',
      specJson: spec([{ rename: { a: 'first' } }]),
      bytes: new TextEncoder().encode(`a,b\n1,2\n${'x'.repeat(40)},3\n4,${'é'.repeat(20)}\n`),
      decodeState: { first: true },
      meta: meta({ limits: { maxRowBytes: 1000, maxFieldBytes: 30, maxColumns: 10 } }),
    })
    expect(rowsOf(result.batches).rows).toEqual([['1', '2']])
    expect(result.quarantined).toEqual([
      expect.objectContaining({
        record: 1,
        rule: 'max_field_bytes',
        column: 'a',
        reason: 'column "a" holds 40 bytes; max_field_bytes is 30',
      }),
      // 20 characters, 40 bytes of UTF-8.
      expect.objectContaining({ record: 2, rule: 'max_field_bytes', column: 'b' }),
    ])
  })

  it('reads a lookup file only inside the file roots, symbolic links resolved', async () => {
    mkdirSync(join(dir, 'root'))
    mkdirSync(join(dir, 'outside'))
    writeFileSync(join(dir, 'root', 'stores.csv'), 'id,region\n1,north\n')
    writeFileSync(join(dir, 'outside', 'stores.csv'), 'id,region\n1,secret\n')
    symlinkSync(join(dir, 'outside', 'stores.csv'), join(dir, 'root', 'link.csv'))
    const withLookup = (file: string) => ({
      type: 'process' as const,
      pipelineKey: `lookup-${file}`,
      specJson: spec([
        { lookup: { from: { type: 'csv', path: join(dir, 'root', file) }, on: 'id', columns: ['region'] } },
      ]),
      bytes: new TextEncoder().encode('id\n1\n'),
      decodeState: { first: true },
      meta: meta({ fileRoots: [join(dir, 'root')] }),
    })
    expect(rowsOf((await processChunk(new CompiledCache(), withLookup('stores.csv'))).batches).rows).toEqual([
      ['1', 'north'],
    ])
    await expect(processChunk(new CompiledCache(), withLookup('link.csv'))).rejects.toThrow(
      `lookup: lookup file ${join(dir, 'root', 'link.csv')} resolves to ${join(dir, 'outside', 'stores.csv')} (a symbolic link), outside the agent's file_roots (allowed roots: ${join(dir, 'root')})`,
    )
  })
})
