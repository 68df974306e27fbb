/** In-process notifications: what changed, for the gRPC sessions and the console's live stream. */
import { EventEmitter } from 'node:events'
import type {
  AgentRecord,
  AlertRecord,
  AuditRecord,
  RolloutRecord,
  RunRecord,
  ThroughputPoint,
} from './store/types.js'

export interface ControlPlaneEvents {
  agent: [agent: AgentRecord]
  run: [run: RunRecord]
  pipelines: [change: { name: string; version?: number; deleted?: boolean }]
  throughput: [point: ThroughputPoint]
  deadLetter: [entry: { subject: string; reason: string }]
  audit: [entry: AuditRecord]
  rollout: [rollout: RolloutRecord]
  alert: [alert: AlertRecord]
}

export class EventBus extends EventEmitter<ControlPlaneEvents> {
  constructor() {
    super()
    // One listener per console connection and per agent session.
    this.setMaxListeners(0)
  }
}
