// The `outpost` command line as a user runs it: exit codes, JSON on stdout, errors on stderr.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from './helpers/nats.js'
import { type ControlPlaneHandle, runCli as outpost, startControlPlane } from './helpers/outpost.js'

const dir = mkdtempSync(join(tmpdir(), 'outpost-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function pipelineFile(name: string, body: string): string {
  const path = join(dir, name)
  writeFileSync(path, body)
  return path
}

describe('outpost run --local', () => {
  it('prints one JSON object and exits 0 on success', async () => {
    writeFileSync(join(dir, 'in.csv'), 'id,amount\n1,5\n2,x\n3,7\n')
    const file = pipelineFile(
      'ok.yaml',
      `apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: cli-ok }\nspec:\n  source: { type: csv, path: ${join(dir, 'in.csv')} }\n  transforms: [{ cast: { amount: int } }]\n  sinks: [{ type: file, path: ${join(dir, 'out')}, format: csv }]\n`,
    )
    const r = await outpost(['run', file, '--local'])
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    const report = JSON.parse(lines[0]!) as Record<string, unknown>
    expect(Object.keys(report)).toEqual(
      expect.arrayContaining([
        'pipeline',
        'status',
        'rowsRead',
        'rowsWritten',
        'rowsQuarantined',
        'durationMs',
        'errors',
      ]),
    )
    expect(report).toMatchObject({
      pipeline: 'cli-ok',
      status: 'succeeded',
      rowsRead: 3,
      rowsWritten: 2,
      rowsQuarantined: 1,
    })
    expect(readdirSync(join(dir, 'out'), { recursive: true }).some((f) => String(f).endsWith('.csv'))).toBe(
      true,
    )
  })

  it('exits 1 on a failed run and 2 on an invalid spec, with field paths on stderr', async () => {
    const missing = pipelineFile(
      'missing.yaml',
      `apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: cli-missing }\nspec:\n  source: { type: csv, path: ${join(dir, 'absent.csv')} }\n  sinks: [{ type: file, path: ${join(dir, 'out2')} }]\n`,
    )
    const failed = await outpost(['run', missing, '--local'])
    expect(failed.code).toBe(1)
    expect(JSON.parse(failed.stdout)).toMatchObject({
      status: 'failed',
      errors: [expect.objectContaining({ message: expect.stringContaining('file not found') })],
    })

    const invalid = pipelineFile(
      'invalid.yaml',
      'apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: cli-bad }\nspec:\n  source: { type: csv }\n  sinks: []\n',
    )
    const bad = await outpost(['run', invalid, '--local'])
    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe('')
    expect(bad.stderr).toContain('spec.source.path: required (line 5')
    expect(bad.stderr).toContain('spec.sinks: a pipeline needs at least one sink')

    expect((await outpost(['run', invalid])).code).toBe(2)
    expect((await outpost(['frobnicate'])).code).toBe(2)
  })

  it('reads agent settings from a file, overridden by the environment and then by flags', async () => {
    const config = pipelineFile(
      'agent.yaml',
      'control_plane: file:7400\nstate_dir: /from/file\nmax_runs: 4\nlabels: { a: "1" }\nfile_roots: [/srv/a]\nmax_row_bytes: 1MiB\nmax_columns: 50\n',
    )
    const checked = await outpost(
      [
        'agent',
        '--config',
        config,
        '--check-config',
        '--state-dir',
        '/from/flag',
        '--label',
        'b=2',
        '--max-columns',
        '70',
      ],
      {
        OUTPOST_CONTROL_PLANE: 'env:7400',
        OUTPOST_STATE_DIR: '/from/env',
        OUTPOST_FILE_ROOTS: '/srv/b:/srv/c',
        OUTPOST_MAX_FIELD_BYTES: '2MiB',
      },
    )
    expect(checked.code).toBe(0)
    expect(JSON.parse(checked.stdout)).toMatchObject({
      control_plane: 'env:7400',
      state_dir: '/from/flag',
      max_runs: 4,
      labels: { a: '1', b: '2' },
      file_roots: ['/srv/b', '/srv/c'],
      max_row_bytes: 1024 * 1024,
      max_field_bytes: 2 * 1024 * 1024,
      max_columns: 70,
    })
    const badLimit = await outpost(['agent', '--check-config', '--max-row-bytes', 'huge'])
    expect(badLimit.code).toBe(2)
    expect(badLimit.stderr).toContain('--max-row-bytes must be a size such as 512MiB or 1GiB, got "huge"')
    const cp = await outpost(['control-plane', '--check-config', '--store-url', 'postgres://u:hunter2@db/x'])
    expect(cp.code).toBe(0)
    expect(JSON.parse(cp.stdout)).toMatchObject({
      store: 'postgres://***@db/x',
      http_listen: '127.0.0.1:7080',
    })
    expect(cp.stdout).not.toContain('hunter2')
    const missing = await outpost(['agent', '--config', '/nonexistent/agent.yaml'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('cannot read config file /nonexistent/agent.yaml: ENOENT')
    const wrong = await outpost([
      'agent',
      '--config',
      pipelineFile('bad.yaml', 'control_plane: x:1\nthreads: -1\n'),
    ])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/bad\.yaml:2: threads: /)
  })
})

describe('outpost against a control plane', () => {
  let nats: NatsServer
  let cp: ControlPlaneHandle
  beforeAll(async () => {
    nats = await startNats()
    cp = await startControlPlane(nats.url)
  })
  afterAll(async () => {
    await cp?.process.stop()
    await nats?.dispose()
  })

  it('creates tokens, applies pipelines (a new version only when changed) and lists them', async () => {
    const env = { OUTPOST_SERVER: cp.api }
    const token = await outpost(['token', 'create', '--label', 'site=cli', '--ttl', '1h'], env)
    expect(token.code).toBe(0)
    expect(token.stdout.trim()).toMatch(/^oet_\S+$/)

    const spec = (schedule: string) =>
      `apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: applied }\nspec:\n  schedule: ${schedule}\n  source: { type: csv, path: /in.csv }\n  sinks: [{ type: file, path: /out }]\n---\napiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: second }\nspec:\n  source: { type: csv, path: /in.csv }\n  sinks: [{ type: file, path: /out }]\n`
    const file = pipelineFile('apply.yaml', spec('manual'))
    const first = await outpost(['apply', '-f', file], env)
    expect(first.code).toBe(0)
    expect(first.stdout).toBe('pipeline applied: version 1 created\npipeline second: version 1 created\n')
    expect((await outpost(['apply', '-f', file], env)).stdout).toContain(
      'pipeline applied: version 1 unchanged',
    )
    writeFileSync(file, spec('"*/5 * * * *"'))
    expect((await outpost(['apply', '-f', file], env)).stdout).toContain(
      'pipeline applied: version 2 updated',
    )

    const listed = await outpost(['get', 'pipelines'], env)
    expect(listed.stdout.split('\n')[0]).toMatch(/^NAME\s+VERSION\s+SCHEDULE/)
    expect(listed.stdout).toMatch(/applied\s+2\s+\*\/5 \* \* \* \*/)
    const json = JSON.parse((await outpost(['get', 'pipelines', '-o', 'json'], env)).stdout) as {
      name: string
    }[]
    expect(json.map((p) => p.name)).toEqual(['applied', 'second'])

    const invalid = pipelineFile(
      'apply-bad.yaml',
      'apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: x }\nspec:\n  source: { type: csv, path: a }\n  sinks: [{ type: ftp }]\n',
    )
    const bad = await outpost(['apply', '-f', invalid], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('spec.sinks[0].type: unknown type "ftp"')
  })

  it('says clearly when the control plane cannot be reached', async () => {
    const r = await outpost(['get', 'agents', '--server', 'http://127.0.0.1:1'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('cannot reach the control plane at http://127.0.0.1:1/')
  })
})
