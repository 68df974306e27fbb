/**
 * The fixed telemetry vocabulary: every component reports these names and no others, so
 * dashboards and alerts can rely on them. Labels are bounded (no per-row or per-batch labels).
 */
export interface MetricDefinition {
  name: string
  kind: 'counter' | 'gauge' | 'histogram'
  help: string
  labels: readonly string[]
}

const define = <const D extends Record<string, MetricDefinition>>(d: D) => d

export const METRICS = define({
  rowsRead: {
    name: 'outpost_rows_read_total',
    kind: 'counter',
    help: 'Rows read from sources.',
    labels: ['pipeline'],
  },
  rowsWritten: {
    name: 'outpost_rows_written_total',
    kind: 'counter',
    help: 'Rows committed for delivery to sinks.',
    labels: ['pipeline'],
  },
  rowsQuarantined: {
    name: 'outpost_rows_quarantined_total',
    kind: 'counter',
    help: 'Rows kept in quarantine with the rule they broke.',
    labels: ['pipeline'],
  },
  rowsFiltered: {
    name: 'outpost_rows_filtered_total',
    kind: 'counter',
    help: 'Rows removed on purpose by a filter.',
    labels: ['pipeline'],
  },
  rowsDropped: {
    name: 'outpost_rows_dropped_total',
    kind: 'counter',
    help: 'Rows dropped by policy (on_error: drop, drop_oldest).',
    labels: ['pipeline'],
  },
  bytesRead: {
    name: 'outpost_bytes_read_total',
    kind: 'counter',
    help: 'Bytes read from sources.',
    labels: ['pipeline'],
  },
  workerCrashes: {
    name: 'outpost_worker_crashes_total',
    kind: 'counter',
    help: 'Worker threads that died processing a chunk (the chunk is processed again).',
    labels: ['pipeline'],
  },
  runDuration: {
    name: 'outpost_run_duration_seconds',
    kind: 'histogram',
    help: 'How long runs took, from start to their last batch committed.',
    labels: ['pipeline', 'status'],
  },
  runsFinished: {
    name: 'outpost_runs_total',
    kind: 'counter',
    help: 'Runs finished, by status.',
    labels: ['pipeline', 'status'],
  },
  outboxBatches: {
    name: 'outpost_outbox_batches',
    kind: 'gauge',
    help: 'Batches waiting in the agent outbox.',
    labels: [],
  },
  outboxBytes: {
    name: 'outpost_outbox_bytes',
    kind: 'gauge',
    help: 'Bytes waiting in the agent outbox.',
    labels: [],
  },
  outboxOldestAge: {
    name: 'outpost_outbox_oldest_age_seconds',
    kind: 'gauge',
    help: 'Age of the oldest unacknowledged batch.',
    labels: [],
  },
  controlConnected: {
    name: 'outpost_control_plane_connected',
    kind: 'gauge',
    help: 'Whether the agent holds its Sync stream to the control plane (1) or not (0).',
    labels: [],
  },
  natsReconnects: {
    name: 'outpost_nats_reconnects',
    kind: 'gauge',
    help: 'Times the agent reconnected to NATS since it started (a gauge of a count that only grows).',
    labels: [],
  },
  natsConnected: {
    name: 'outpost_nats_connected',
    kind: 'gauge',
    help: 'Whether the agent is connected to NATS (1) or not (0).',
    labels: [],
  },
  // Control plane: the fleet as a whole.
  agents: {
    name: 'outpost_agents',
    kind: 'gauge',
    help: 'Agents by state (online, degraded, offline, revoked).',
    labels: ['state'],
  },
  syncStreams: {
    name: 'outpost_grpc_sync_streams',
    kind: 'gauge',
    help: 'Agents holding a Sync stream to this control-plane replica.',
    labels: [],
  },
  rolloutsActive: {
    name: 'outpost_rollouts_active',
    kind: 'gauge',
    help: 'Rollouts running or paused.',
    labels: ['state'],
  },
  alertsOpen: {
    name: 'outpost_alerts_open',
    kind: 'gauge',
    help: 'Alerts firing or acknowledged, by rule.',
    labels: ['rule', 'state'],
  },
  fleetRowsRead: {
    name: 'outpost_fleet_rows_read_total',
    kind: 'counter',
    help: 'Rows read across the fleet, as reported by the agents.',
    labels: [],
  },
  fleetRowsWritten: {
    name: 'outpost_fleet_rows_written_total',
    kind: 'counter',
    help: 'Rows written across the fleet, as reported by the agents.',
    labels: [],
  },
})

export type MetricKey = keyof typeof METRICS
