/** An in-process control-plane context for route and service tests (real LMDB store; NATS absent). */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, type Logger } from '@outpost/agent'
import { auditTo } from './audit.js'
import { newApiToken } from './auth/auth.js'
import type { ControlPlaneContext } from './context.js'
import { EventBus } from './events.js'
import { AlertManager } from './fleet/alerts.js'
import { PipelineCatalog } from './fleet/catalog.js'
import { RolloutController } from './fleet/rollouts.js'
import { AgentStateHistory } from './fleet/state-history.js'
import { hashSecret } from './grpc/credentials.js'
import { SessionRegistry } from './grpc/sessions.js'
import { CentralIngest } from './ingest/central.js'
import { TelemetryIngest } from './ingest/telemetry.js'
import { NatsLink } from './nats/link.js'
import { ControlPlane } from './server.js'
import { LmdbStore } from './store/lmdb.js'
import { ParquetWarehouse } from './warehouse/parquet.js'

/** The admin API token `withAdminToken` installs, for route tests. */
export const TEST_ADMIN_TOKEN = 'opa_route-test-admin-0123456789abcdef'

export async function withAdminToken(ctx: ControlPlaneContext): Promise<string> {
  const { record } = newApiToken('test-admin', 'admin', 'system')
  await ctx.store.createApiToken({ ...record, hash: hashSecret(TEST_ADMIN_TOKEN) })
  return TEST_ADMIN_TOKEN
}

export function testContext(): ControlPlaneContext & { close(): Promise<void> } {
  const log = createLogger({ level: 'error', write: () => {} })
  const store = new LmdbStore(mkdtempSync(join(tmpdir(), 'outpost-cp-test-')))
  const events = new EventBus()
  const catalog = new PipelineCatalog(store, events)
  const sessions = new SessionRegistry(store, catalog)
  // Port 1 is closed: the link keeps retrying in the background, as with NATS down.
  const nats = new NatsLink({ servers: ['nats://127.0.0.1:1'], log })
  const ingest = new TelemetryIngest(nats, store, events, log)
  const warehouse = new ParquetWarehouse(mkdtempSync(join(tmpdir(), 'outpost-wh-test-')), log)
  const central = new CentralIngest(nats, warehouse, store, events, log)
  const audit = auditTo(store, log, events)
  const stateHistory = new AgentStateHistory(store, events, log)
  stateHistory.start()
  return {
    stateHistory,
    rollouts: new RolloutController(store, events, audit, log),
    alerts: new AlertManager(store, events, audit, log),
    central,
    warehouse,
    store,
    events,
    sessions,
    catalog,
    nats,
    ingest,
    log,
    audit,
    async close() {
      await nats.close()
      await stateHistory.stop()
      await store.close()
    },
  }
}

/** A whole control plane on free loopback ports; NATS at `natsUrl` (port 1 is closed: NATS down). */
export function startTestControlPlane(
  dataDir: string,
  log: Logger,
  natsUrl = 'nats://127.0.0.1:1',
): Promise<ControlPlane> {
  return ControlPlane.start({
    dataDir,
    grpcListen: '127.0.0.1:0',
    httpHost: '127.0.0.1',
    httpPort: 0,
    natsServers: [natsUrl],
    log,
    heartbeatIntervalMs: 500,
  })
}
