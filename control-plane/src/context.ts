import type { Logger } from '@outpost/agent'
import type { PromMetrics } from '@outpost/agent/prometheus'
import type { Audit } from './audit.js'
import type { EventBus } from './events.js'
import type { AlertManager } from './fleet/alerts.js'
import type { PipelineCatalog } from './fleet/catalog.js'
import type { RolloutController } from './fleet/rollouts.js'
import type { AgentStateHistory } from './fleet/state-history.js'
import type { SessionRegistry } from './grpc/sessions.js'
import type { CentralIngest } from './ingest/central.js'
import type { TelemetryIngest } from './ingest/telemetry.js'
import type { NatsLink } from './nats/link.js'
import type { Store } from './store/types.js'
import type { Warehouse } from './warehouse/types.js'

/** What the API routes and services share inside one control-plane process. */
export interface ControlPlaneContext {
  store: Store
  events: EventBus
  sessions: SessionRegistry
  catalog: PipelineCatalog
  nats: NatsLink
  ingest: TelemetryIngest
  central: CentralIngest
  warehouse: Warehouse
  log: Logger
  /** Records an action in the audit log. */
  audit: Audit
  rollouts: RolloutController
  alerts: AlertManager
  /** Records each agent's state changes. */
  stateHistory: AgentStateHistory
  /** Served at /metrics. */
  prometheus?: PromMetrics
}
