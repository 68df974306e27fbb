import { create } from '@bufbuild/protobuf'
import { type Column, encodeColumns, type Value } from '@outpost/shared/batch'
import { ColumnSchema, ColumnType } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import fc from 'fast-check'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fuzzBudget, fuzzTimeout } from '../../../test/helpers/fuzz.js'
import { createDatabase, type TestDatabase } from '../../../test/helpers/postgres.js'
import { createLogger } from '../log.js'
import { copyBinary } from './copy-binary.js'
import { copyText } from './copy-text.js'
import { copyLoads, PG_TYPE, PgTableWriter, SchemaConflictError } from './postgres.js'

const COLUMNS: Column[] = [
  { name: 'ord', type: 'int' },
  { name: 'i', type: 'int' },
  { name: 'f', type: 'float' },
  { name: 'd', type: 'decimal' },
  { name: 'b', type: 'bool' },
  { name: 'ts', type: 'timestamp' },
  { name: 'day', type: 'date' },
  { name: 's', type: 'string' },
  { name: 'j', type: 'json' },
  { name: 'raw', type: 'bytes' },
]

const orNull = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 6 })
const digits = (max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: max })
const decimal = fc
  .tuple(fc.constantFrom('', '-', '+'), digits(40), fc.option(digits(24), { nil: undefined }))
  .filter(([, whole, frac]) => whole.length > 0 || (frac?.length ?? 0) > 0)
  .map(([sign, whole, frac]) => `${sign}${whole}${frac === undefined ? '' : `.${frac}`}`)
const int64 = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((v) => !Number.isSafeInteger(Number(v))),
)
/** µs since 1970, 1716 to 2223 (what binary COPY carries; the rest goes as text). */
const timestamp = fc.integer({ min: -8e15, max: 8e15 })
const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\u0000'))
const row = fc.tuple(
  orNull(int64),
  orNull(fc.double()),
  orNull(decimal),
  orNull(fc.boolean()),
  orNull(timestamp),
  orNull(fc.integer({ min: -719_162, max: 2_932_896 })), // years 1 to 9999
  orNull(text),
  orNull(fc.json({ maxDepth: 2 }).filter((j) => !j.includes('\\u0000'))),
  orNull(fc.uint8Array({ maxLength: 40 })),
)

describe('binary COPY from columnar bytes', () => {
  let db: TestDatabase
  let client: pg.Client
  const ddl = `(${COLUMNS.map((c) => `${c.name} ${PG_TYPE[c.type]}`).join(', ')})`
  beforeAll(async () => {
    db = await createDatabase()
    client = new pg.Client({ connectionString: db.url })
    await client.connect()
  })
  afterAll(async () => {
    await client.end()
    await db.drop()
  })

  /** The table as PostgreSQL prints it, after loading the rows as binary (from bytes) or as text (from values). */
  async function load(rows: Value[][], format: 'binary' | 'text'): Promise<string[]> {
    await client.query(`DROP TABLE IF EXISTS t_${format}; CREATE TABLE t_${format} ${ddl}`)
    const names = COLUMNS.map((c) => c.name)
    let binary: Uint8Array | undefined
    if (format === 'binary') {
      binary = copyBinary(encodeColumns({ columns: COLUMNS, rows }), rows.length)
      expect(binary, 'binary COPY was refused for ordinary values').toBeDefined()
    }
    await copyLoads(
      client as unknown as pg.PoolClient,
      `t_${format}`,
      [
        {
          columns: COLUMNS,
          copy: format === 'text' ? copyText(COLUMNS, rows, names) : '',
          binary: () => binary,
        },
      ],
      format === 'binary',
    )
    const result = await client.query<{ r: string }>(`SELECT t::text AS r FROM t_${format} t ORDER BY ord`)
    return result.rows.map((r) => r.r)
  }

  it(
    'loads every type exactly as text COPY of the same values does (nulls, extremes, unicode, big decimals)',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(row, { maxLength: 30 }), async (generated) => {
          const rows: Value[][] = generated.map((r, ord) => [ord, ...r])
          const binary = await load(rows, 'binary')
          expect(binary).toHaveLength(rows.length)
          expect(binary).toEqual(await load(rows, 'text'))
        }),
        {
          ...fuzzBudget(150, 6),
          examples: [
            [
              [
                [
                  -(2n ** 63n),
                  -0,
                  '-0.000',
                  false,
                  -8e15,
                  -719_162,
                  'Grüße, 世界 🎉',
                  '{"a":[1,null]}',
                  new Uint8Array([0]),
                ],
              ],
            ],
            [
              [
                [
                  2n ** 63n - 1n,
                  Number.NaN,
                  '0000123.4500',
                  true,
                  8e15,
                  2_932_896,
                  '\\\t\n',
                  '[]',
                  new Uint8Array(),
                ],
              ],
            ],
          ],
        },
      )
    },
    fuzzTimeout(6),
  )

  it(
    'writes the same bytes from columns that are views at any offset of a Buffer (as decoded from the outbox)',
    () => {
      fc.assert(
        fc.property(
          fc.array(row, { minLength: 1, maxLength: 20 }),
          fc.integer({ min: 1, max: 3 }),
          (generated, shift) => {
            const rows: Value[][] = generated.map((r, ord) => [ord, ...r])
            const wire = encodeColumns({ columns: COLUMNS, rows })
            // Each byte field at an odd place in one Buffer, as protobuf leaves them after decoding.
            const moved = wire.map((col) => {
              const at = (bytes: Uint8Array) => {
                const buffer = Buffer.alloc(bytes.length + shift + 8)
                buffer.set(bytes, shift)
                return buffer.subarray(shift, shift + bytes.length)
              }
              return create(ColumnSchema, {
                ...col,
                values: at(col.values),
                offsets: at(col.offsets),
                validity: at(col.validity),
              })
            })
            expect(Buffer.from(copyBinary(moved, rows.length)!)).toEqual(
              Buffer.from(copyBinary(wire, rows.length)!),
            )
          },
        ),
        fuzzBudget(300),
      )
    },
    fuzzTimeout(),
  )

  it('leaves to text COPY what binary would not load the same way', () => {
    const one = (type: Column['type'], value: Value) =>
      copyBinary(encodeColumns({ columns: [{ name: 'c', type }], rows: [[value]] }), 1)
    expect(one('string', 'ok')).toBeDefined()
    expect(one('string', 'a\u0000b')).toBeUndefined()
    expect(one('decimal', '1e5')).toBeUndefined()
    expect(one('decimal', 'NaN')).toBeUndefined()
    expect(one('decimal', ' 1')).toBeUndefined()
    expect(one('timestamp', 9e15)).toBeUndefined()
    expect(one('date', 2_147_000_000)).toBeUndefined()
    // Bytes that are not UTF-8, and a character split between two cells.
    const wire = (values: number[], offsets: number[]) =>
      create(ColumnSchema, {
        name: 'c',
        type: ColumnType.STRING,
        values: new Uint8Array(values),
        offsets: new Uint8Array(new Uint32Array(offsets).buffer),
      })
    expect(copyBinary([wire([0x61, 0xff], [0, 2])], 1)).toBeUndefined()
    expect(copyBinary([wire([0xc3, 0xbc], [0, 1, 2])], 2)).toBeUndefined()
    expect(copyBinary([wire([0xc3, 0xbc], [0, 0, 2])], 2)).toBeDefined()
    expect(copyBinary([wire([0xc3, 0xbc], [1, 2])], 1)).toBeUndefined()
  })

  it('a batch text COPY cannot write fails as a conflict, and the connection is free after it', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 })
    const writer = new PgTableWriter(pool, createLogger({ level: 'error', write: () => {} }))
    const columns: Column[] = [{ name: 'at', type: 'timestamp' }]
    const loadOf = (id: string, at: Value) => {
      const wire = encodeColumns({ columns, rows: [[at]] })
      return {
        id,
        agentId: 'a',
        pipeline: 'p',
        columns,
        // Beyond what binary takes (and, for INT64_MAX, beyond what text can format).
        copy: () => copyText(columns, [[at]], ['at']),
        binary: () => copyBinary(wire, 1),
        rows: 1,
        targets: [{ table: 'far', mode: 'append' as const, keys: [] }],
      }
    }
    try {
      await writer.write([loadOf('ok', 1_700_000_000_000_000)])
      const refused = writer.write([loadOf('x1', 2n ** 63n - 1n)])
      await expect(refused).rejects.toBeInstanceOf(SchemaConflictError)
      await expect(refused).rejects.toThrow('batch x1')
      // One connection in the pool: a COPY left open would keep this from ever running.
      await writer.write([loadOf('ok2', 1_700_000_000_000_001)])
      expect((await client.query('SELECT count(*)::int AS n FROM far')).rows).toEqual([{ n: 2 }])
    } finally {
      await pool.end()
    }
  })

  it('a column whose type changed behind the writer is retried as text, not refused', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 })
    const writer = new PgTableWriter(pool, createLogger({ level: 'error', write: () => {} }))
    const columns: Column[] = [{ name: 'n', type: 'int' }]
    const loadOf = (id: string, n: number) => ({
      id,
      agentId: 'a',
      pipeline: 'p',
      columns,
      copy: `${n}\n`,
      binary: () => copyBinary(encodeColumns({ columns, rows: [[n]] }), 1),
      rows: 1,
      targets: [{ table: 'altered', mode: 'append' as const, keys: [] }],
    })
    try {
      await writer.write([loadOf('a1', 1)])
      await client.query('ALTER TABLE altered ALTER COLUMN n TYPE integer')
      const first = await writer.write([loadOf('a2', 2)]).catch((error: unknown) => error)
      expect(first).not.toBeInstanceOf(SchemaConflictError)
      expect((first as { code?: string }).code).toBe('22P03')
      expect(await writer.write([loadOf('a2', 2)])).toBe(1)
      expect((await client.query('SELECT n FROM altered ORDER BY n')).rows).toEqual([{ n: 1 }, { n: 2 }])
    } finally {
      await pool.end()
    }
  })

  it('the writer sends binary only to a table whose column types are exactly its own', async () => {
    const writer = new PgTableWriter(
      new pg.Pool({ connectionString: db.url, max: 1 }),
      createLogger({ level: 'error', write: () => {} }),
    )
    const columns: Column[] = [{ name: 'n', type: 'int' }]
    // The two encodings carry different values, so the table shows which one was used.
    const loadOf = (id: string, table: string) => ({
      id,
      agentId: 'a',
      pipeline: 'p',
      columns,
      copy: '1\n',
      binary: () => copyBinary(encodeColumns({ columns, rows: [[2]] }), 1),
      rows: 1,
      targets: [{ table, mode: 'append' as const, keys: [] }],
    })
    try {
      await client.query('CREATE TABLE narrow (n integer)')
      await writer.write([loadOf('b1', 'wide'), loadOf('b2', 'narrow')])
      expect((await client.query('SELECT n FROM wide')).rows).toEqual([{ n: '2' }])
      expect((await client.query('SELECT n FROM narrow')).rows).toEqual([{ n: 1 }])
    } finally {
      await writer.pool.end()
    }
  })
})
