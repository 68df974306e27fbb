/**
 * The embedded warehouse: one Parquet file per batch under <data dir>/warehouse/<table>/, named
 * by the batch id and written atomically (temporary file, then rename), so a redelivered batch
 * finds its file and changes nothing. Upsert needs PostgreSQL.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, promises as fs, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '@outpost/agent'
import { batchFileName, encodeParquet } from '@outpost/agent/db'
import { SchemaConflictError, type Warehouse, type WarehouseBatch } from './types.js'

export { batchFileName }

export class ParquetWarehouse implements Warehouse {
  readonly kind = 'parquet'
  readonly supportsUpsert = false

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  async write(batches: WarehouseBatch[]): Promise<number> {
    let written = 0
    for (const batch of batches) {
      const upsert = batch.targets.find((t) => t.mode === 'upsert')
      if (upsert) {
        throw new SchemaConflictError(
          `table ${upsert.table}: mode upsert needs a PostgreSQL warehouse (start the control plane with --warehouse-url)`,
          batch.id,
        )
      }
      let fresh = false
      for (const target of batch.targets) {
        const dir = join(this.dir, target.table)
        const path = join(dir, batchFileName(batch.id))
        if (existsSync(path)) continue
        await fs.mkdir(dir, { recursive: true })
        const temp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`)
        await fs.writeFile(temp, new Uint8Array(encodeParquet(batch.columns, batch.rows)))
        await fs.rename(temp, path)
        fresh = true
      }
      if (fresh) written++
    }
    if (written > 0) this.log.debug('parquet batches written', { batches: written })
    return written
  }

  async count(table: string): Promise<number> {
    const { parquetMetadata } = await import('hyparquet')
    const dir = join(this.dir, table)
    if (!existsSync(dir)) return 0
    let rows = 0
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.parquet'))) {
      const buffer = await fs.readFile(join(dir, name))
      rows += Number(
        parquetMetadata(
          buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer,
        ).num_rows,
      )
    }
    return rows
  }

  async close(): Promise<void> {}
}
