// Bad input never crashes a run or loses a good row: each bad record is quarantined with a reason
// that names what is wrong, and what cannot be read at all fails the run with a clear error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SecretResolver } from '../../agent/src/secrets.js'
import { ndjsonRows, run, YAML_HEAD } from '../conformance/kit.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'

describe('bad input', () => {
  let work: string
  let pg: TestDatabase
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-bad-'))
    pg = await createDatabase()
  })
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true })
    await pg?.drop()
  })

  const pipeline = (name: string, source: string, transforms = '[]') =>
    `${YAML_HEAD(name)}  source: ${source}\n  transforms: ${transforms}\n  sinks: [{ type: file, path: ${join(work, `out-${name}`)}, format: ndjson }]\n`

  it('CSV: ragged rows, invalid UTF-8, wrong types and an unclosed quote are quarantined; good rows all arrive', async () => {
    const file = join(work, 'bad.csv')
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from('id,name,amount\n1,ok,1.5\n2,too,many,fields\n3,short\n'),
        Buffer.from('4,caf'),
        Buffer.from([0xe9]), // latin1 é in a UTF-8 file
        Buffer.from(',2\n5,fine,not-a-number\n6,"good ""quoted""",3\n7,"never closed,4\n'),
      ]),
    )
    const report = await run(
      pipeline('bad-csv', `{ type: csv, path: ${file} }`, '[{ cast: { id: int, amount: decimal } }]'),
    )
    expect(report).toMatchObject({ status: 'succeeded', rowsWritten: 2, rowsQuarantined: 5 })
    const rows = ndjsonRows(join(work, 'out-bad-csv'))
    expect(rows).toEqual([
      { id: 1, name: 'ok', amount: '1.5' },
      { id: 6, name: 'good "quoted"', amount: '3' },
    ])
    const reasons = report.errors.map((e) => `${e.record}: ${e.message}`)
    expect(reasons).toEqual(
      expect.arrayContaining([
        '2: expected 3 fields, got 4',
        '3: expected 3 fields, got 2',
        '4: invalid UTF-8 in column name (set encoding: latin1 if the file is not UTF-8)',
        expect.stringMatching(/^5: cannot convert "not-a-number" in column amount to decimal/),
        expect.stringMatching(/^7: .*quote/i),
      ]),
    )
  })

  it('NDJSON: invalid JSON, a non-object and invalid UTF-8 are quarantined', async () => {
    const file = join(work, 'bad.ndjson')
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from('{"id":1}\n{"id":2,\n[1,2]\n{"id":4,"name":"caf'),
        Buffer.from([0xe9]),
        Buffer.from('"}\n{"id":5}\n'),
      ]),
    )
    const report = await run(pipeline('bad-ndjson', `{ type: ndjson, path: ${file} }`))
    expect(report).toMatchObject({ status: 'succeeded', rowsWritten: 2, rowsQuarantined: 3 })
    expect(report.errors.map((e) => `${e.record}: ${e.message.split(':')[0]}`)).toEqual([
      '2: invalid JSON',
      '3: expected a JSON object, got an array',
      '4: invalid UTF-8 (set encoding',
    ])
  })

  it('a missing file and a table that vanished fail the run with a clear, permanent error', async () => {
    const missing = await run(pipeline('gone-file', `{ type: csv, path: ${join(work, 'nope.csv')} }`))
    expect(missing.status).toBe('failed')
    expect(missing.errors[0]).toMatchObject({
      message: `file not found: ${join(work, 'nope.csv')}`,
      retryable: false,
    })

    await pg.query('CREATE TABLE vanishing (id int); INSERT INTO vanishing VALUES (1)')
    const secrets = new SecretResolver({ env: { OUTPOST_SECRET_PG: pg.url } })
    const spec = pipeline('vanish', '{ type: postgres, url: "${secret:PG}", table: vanishing }')
    expect(await run(spec, { secrets })).toMatchObject({ status: 'succeeded', rowsWritten: 1 })
    await pg.query('DROP TABLE vanishing')
    const gone = await run(spec, { secrets })
    expect(gone.status).toBe('failed')
    expect(gone.errors[0]).toMatchObject({
      message: expect.stringContaining('table does not exist: relation "vanishing" does not exist'),
      retryable: false,
    })
  })
})
