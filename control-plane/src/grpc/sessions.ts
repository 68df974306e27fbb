/**
 * The agents connected right now, one Sync stream each: pushes desired states when what an agent
 * should run changes, sends commands and waits for their results.
 */
import { create } from '@bufbuild/protobuf'
import type * as grpc from '@grpc/grpc-js'
import {
  type Command,
  type CommandResult,
  DesiredStateSchema,
  PipelineAssignmentSchema,
  type SyncRequest,
  type SyncResponse,
  SyncResponseSchema,
} from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import type { PipelineCatalog } from '../fleet/catalog.js'
import type { Store } from '../store/types.js'

export interface Session {
  agentId: string
  call: grpc.ServerDuplexStream<SyncRequest, SyncResponse>
  /** Signature of the last desired state sent, to skip identical pushes. */
  sentSignature: string
  lastMessageAt: number
  /** The last heartbeat status written to the store, and when. */
  statusSignature: string
  persistedAt: number
  pending: Map<string, { resolve: (r: CommandResult) => void; timer: NodeJS.Timeout }>
}

export class SessionRegistry {
  readonly sessions = new Map<string, Session>()
  private commandSeq = 0

  constructor(
    private readonly store: Store,
    private readonly catalog: PipelineCatalog,
  ) {}

  get size(): number {
    return this.sessions.size
  }

  isConnected(agentId: string): boolean {
    return this.sessions.has(agentId)
  }

  send(session: Session, message: SyncResponse['message']): void {
    session.call.write(create(SyncResponseSchema, { message }))
  }

  /** Sends the agent its desired state unless it already has exactly this one. */
  async pushDesired(session: Session, force = false): Promise<void> {
    const agent = await this.store.getAgent(session.agentId)
    if (!agent || agent.revokedAt) return
    const assignments = await this.catalog.assignmentsFor(agent)
    const signature = assignments.map((a) => `${a.name}@${a.version}:${a.hash}`).join(',')
    if (!force && signature === session.sentSignature) return
    if (this.sessions.get(session.agentId) !== session) return
    session.sentSignature = signature
    const revision = await this.store.configRevision()
    this.send(session, {
      case: 'desiredState',
      value: create(DesiredStateSchema, {
        revision: BigInt(revision),
        pipelines: assignments.map((a) => create(PipelineAssignmentSchema, a)),
      }),
    })
  }

  /** Ends an agent's stream (after a revocation); the agent's reconnect is then refused. */
  disconnect(agentId: string, reason: string): boolean {
    const session = this.sessions.get(agentId)
    if (!session) return false
    session.call.emit('error', { code: 7 /* PERMISSION_DENIED */, details: reason })
    return true
  }

  async pushAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.pushDesired(s).catch(() => {})))
  }

  /** Sends a command and waits for its result (or a timeout, reported as a failed result). */
  command(
    agentId: string,
    command: Omit<Command, 'commandId' | '$typeName'> & Partial<Pick<Command, '$typeName'>>,
    timeoutMs = 30_000,
  ): Promise<CommandResult | undefined> {
    const session = this.sessions.get(agentId)
    if (!session) return Promise.resolve(undefined)
    const commandId = `c${Date.now().toString(36)}${(++this.commandSeq).toString(36)}`
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        session.pending.delete(commandId)
        resolve({
          $typeName: 'outpost.agent.v1.CommandResult',
          commandId,
          ok: false,
          error: `agent did not answer within ${timeoutMs} ms`,
          resultJson: '',
        })
      }, timeoutMs)
      session.pending.set(commandId, { resolve, timer })
      this.send(session, {
        case: 'command',
        value: { ...command, $typeName: 'outpost.agent.v1.Command', commandId } as Command,
      })
    })
  }

  resolveCommand(session: Session, result: CommandResult): void {
    const pending = session.pending.get(result.commandId)
    if (!pending) return
    clearTimeout(pending.timer)
    session.pending.delete(result.commandId)
    pending.resolve(result)
  }

  remove(session: Session): boolean {
    for (const p of session.pending.values()) {
      clearTimeout(p.timer)
      p.resolve({
        $typeName: 'outpost.agent.v1.CommandResult',
        commandId: '',
        ok: false,
        error: 'agent disconnected',
        resultJson: '',
      })
    }
    session.pending.clear()
    if (this.sessions.get(session.agentId) !== session) return false
    this.sessions.delete(session.agentId)
    return true
  }
}
