// The agent's limits on hostile input, through a real agent: pipelines may read and write files
// only inside the agent's file_roots (`..` and symbolic links out of them are refused), and rows
// over the row limits (too wide, a value too large) are quarantined with the reason while the
// other rows arrive.
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, type Site, startSite } from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'

interface Run {
  id: string
  pipeline: string
  status: string
  counts: { rowsRead: number; rowsWritten: number; rowsQuarantined: number }
  errors: { stage: string; code: string; message: string; column?: string; source?: string }[]
}
interface Applied {
  name: string
  version: number
  state: string
  error?: string
}

describe('limits at the site', () => {
  let site: Site
  let work: string
  let root: string
  let outside: string

  beforeAll(async () => {
    work = realpathSync(mkdtempSync(join(tmpdir(), 'outpost-limits-')))
    root = join(work, 'root')
    outside = join(work, 'outside')
    mkdirSync(join(root, 'in'), { recursive: true })
    mkdirSync(outside)
    site = await startSite({
      agentArgs: ['--file-root', root, '--max-columns', '50', '--max-field-bytes', '64KiB'],
    })
  })

  afterAll(async () => {
    await site?.stop()
    rmSync(work, { recursive: true, force: true })
  })

  const pipeline = (name: string, source: string, sink = join(root, 'out', name)) => ({
    apiVersion: 'outpost/v1',
    kind: 'Pipeline',
    metadata: { name },
    spec: {
      source: { type: 'ndjson', path: source },
      sinks: [{ type: 'file', path: sink, format: 'ndjson' }],
    },
  })
  const applied = (name: string) =>
    waitFor(`the agent to report ${name}`, async () => {
      const a = await api<{ applied: Applied[] }>(site.cp.api, 'GET', `/api/v1/agents/${site.agentId}`)
      return a.body.applied.find((p) => p.name === name)
    })
  const finishedRun = async (name: string) => {
    expect((await api(site.cp.api, 'POST', `/api/v1/pipelines/${name}/run`, {})).status).toBe(202)
    return waitFor(`a run of ${name}`, async () => {
      const runs = await api<{ items: Run[] }>(site.cp.api, 'GET', `/api/v1/runs?pipeline=${name}`)
      return runs.body.items.find((r) => r.status !== 'running')
    })
  }
  const written = (name: string) =>
    readdirSync(join(root, 'out', name), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ndjson'))
      .flatMap((e) => readFileSync(join(e.parentPath, e.name), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l) as Record<string, unknown>)

  it('refuses a path that leaves the roots with "..", naming the path and the roots', async () => {
    writeFileSync(join(outside, 'secret.ndjson'), '{"secret":"s3cr3t"}\n')
    const traversal = `${root}/in/../../outside/*.ndjson`
    expect(
      (await api(site.cp.api, 'PUT', '/api/v1/pipelines/escape', pipeline('escape', traversal))).status,
    ).toBe(201)
    expect(await applied('escape')).toMatchObject({
      state: 'failed',
      error: `spec.source.path (ndjson source) ${traversal} contains "..", which file_roots do not allow (allowed roots: ${root})`,
    })
    const outsideSink = pipeline('sink-outside', join(root, 'in', '*.ndjson'), join(outside, 'out'))
    expect((await api(site.cp.api, 'PUT', '/api/v1/pipelines/sink-outside', outsideSink)).status).toBe(201)
    expect(await applied('sink-outside')).toMatchObject({
      state: 'failed',
      error: `spec.sinks[0].path (file sink) ${join(outside, 'out')} is outside the agent's file_roots (allowed roots: ${root})`,
    })
  })

  it('reads inside the roots, leaves out a symbolic link to outside, and quarantines rows over the limits', async () => {
    const wide = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`c${i}`, i]))
    writeFileSync(
      join(root, 'in', 'a.ndjson'),
      [{ id: 1, note: 'first' }, wide, { id: 3, note: 'x'.repeat(70 * 1024) }, { id: 4, note: 'last' }]
        .map((r) => JSON.stringify(r))
        .join('\n')
        .concat('\n'),
    )
    symlinkSync(join(outside, 'secret.ndjson'), join(root, 'in', 'link.ndjson'))
    const drop = pipeline('drop', join(root, 'in', '*.ndjson'))
    expect((await api(site.cp.api, 'PUT', '/api/v1/pipelines/drop', drop)).status).toBe(201)
    expect(await applied('drop')).toMatchObject({ state: 'applied' })
    const run = await finishedRun('drop')
    expect(run).toMatchObject({
      status: 'succeeded',
      counts: { rowsRead: 4, rowsWritten: 2, rowsQuarantined: 2 },
    })
    expect(run.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          stage: 'extract',
          code: 'outside_file_roots',
          source: join(root, 'in', 'link.ndjson'),
          message: `source file ${join(root, 'in', 'link.ndjson')} resolves to ${join(outside, 'secret.ndjson')} (a symbolic link), outside the agent's file_roots (allowed roots: ${root})`,
        }),
        expect.objectContaining({
          stage: 'extract',
          code: 'max_columns',
          message: 'the record has 60 columns; max_columns is 50',
        }),
        expect.objectContaining({
          stage: 'extract',
          code: 'max_field_bytes',
          column: 'note',
          message: `column "note" holds ${70 * 1024} bytes; max_field_bytes is 65536`,
        }),
      ]),
    )
    // The other rows arrive with the columns they have; the secret never does.
    expect(
      await waitFor('rows in the sink', () => (written('drop').length === 2 ? written('drop') : undefined)),
    ).toEqual([
      { id: 1, note: 'first' },
      { id: 4, note: 'last' },
    ])
    // The rows over a limit wait in the quarantine with the rule they broke; listings cut long text.
    const listed = await api<{
      items: {
        byRule: Record<string, number>
        entries: { rule: string; record: number; row: Record<string, unknown> }[]
      }[]
    }>(site.cp.api, 'GET', '/api/v1/pipelines/drop/quarantine')
    expect(listed.body.items[0]?.byRule).toEqual({ max_columns: 1, max_field_bytes: 1 })
    expect(listed.body.items[0]?.entries.map((e) => [e.record, e.rule])).toEqual([
      [2, 'max_columns'],
      [3, 'max_field_bytes'],
    ])
    expect(listed.body.items[0]?.entries[1]?.row).toMatchObject({
      id: 3,
      note: `${'x'.repeat(1000)}… (${70 * 1024} characters)`,
    })
  })

  it('writes nothing through a file sink directory that is a symbolic link to outside', async () => {
    mkdirSync(join(outside, 'landing'))
    symlinkSync(join(outside, 'landing'), join(root, 'landing'))
    const linked = pipeline('sink-link', join(root, 'in', 'a.ndjson'), join(root, 'landing'))
    expect((await api(site.cp.api, 'PUT', '/api/v1/pipelines/sink-link', linked)).status).toBe(201)
    expect(await applied('sink-link')).toMatchObject({ state: 'applied' })
    expect(await finishedRun('sink-link')).toMatchObject({ status: 'succeeded', counts: { rowsWritten: 2 } })
    const refused = await site.agent.waitForLog(
      (l) => l.msg === 'sink write failed; retrying',
      'the sink refusal',
    )
    expect(refused).toMatchObject({
      retryable: false,
      error: expect.stringMatching(
        new RegExp(
          `^file sink path ${root}/landing/sink-link/\\S+ resolves to ${outside}/landing/sink-link/\\S+ \\(a symbolic link\\), outside the agent's file_roots`,
        ),
      ),
    })
    expect(readdirSync(join(outside, 'landing'))).toEqual([])
  })
})
