/** The PostgreSQL warehouse: the agent's PostgreSQL table writer with the control plane's ledger. */
import { type Logger, PgTableWriter, pgPool } from '@outpost/agent'
import { copyText } from '@outpost/agent/db'
import type pg from 'pg'
import type { Warehouse, WarehouseBatch } from './types.js'

export const LEDGER_TABLE = 'outpost_ledger'

export class PostgresWarehouse implements Warehouse {
  readonly kind = 'postgres'
  readonly supportsUpsert = true
  private readonly pool: pg.Pool
  private readonly writer: PgTableWriter

  constructor(url: string, log: Logger) {
    this.pool = pgPool({ url, max: 4 }, log)
    this.writer = new PgTableWriter(this.pool, log, LEDGER_TABLE)
  }

  write(batches: WarehouseBatch[]): Promise<number> {
    return this.writer.write(
      batches.map((b) => ({
        id: b.id,
        agentId: b.agentId,
        pipeline: b.pipeline,
        columns: b.columns,
        copy: copyText(
          b.columns,
          b.rows,
          b.columns.map((c) => c.name),
        ),
        rows: b.rows.length,
        targets: b.targets,
      })),
    )
  }

  count(table: string): Promise<number> {
    return this.writer.count(table)
  }

  async close(): Promise<void> {
    await this.pool.end()
  }
}
