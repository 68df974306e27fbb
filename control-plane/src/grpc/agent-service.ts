/** AgentService: enrolment and the Sync stream, on the control plane's side. */
import { create } from '@bufbuild/protobuf'
import * as grpc from '@grpc/grpc-js'
import type { Logger } from '@outpost/agent'
import { agentSubjectPrefix } from '@outpost/shared'
import {
  AgentService,
  type AgentStatus,
  type AppliedReport,
  ApplyState,
  EnrollResponseSchema,
  type HostFacts,
  NatsConnectionSchema,
  type SyncRequest,
  WelcomeSchema,
} from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import { addService } from '@outpost/shared/rpc'
import type { Audit } from '../audit.js'
import type { EventBus } from '../events.js'
import { agentInboxPrefix, isUserPublicKey, type NatsAuth } from '../nats/auth.js'
import type {
  AgentRecord,
  AgentStatusRecord,
  AppliedPipelineRecord,
  HostFactsRecord,
  Store,
} from '../store/types.js'
import { hashSecret, newSecret, randomId, sameHash } from './credentials.js'
import type { Session, SessionRegistry } from './sessions.js'

export interface AgentServiceOptions {
  store: Store
  sessions: SessionRegistry
  events: EventBus
  log: Logger
  /** NATS servers handed to agents. */
  natsServers: () => string[]
  /** Issues per-agent NATS credentials when set. */
  natsAuth?: NatsAuth
  heartbeatIntervalMs: number
  /** Records enrolments in the audit log. */
  audit?: Audit
}

function statusError(code: grpc.status, details: string): Partial<grpc.ServiceError> {
  return { code, details, message: details }
}

export function hostRecord(host: HostFacts | undefined): HostFactsRecord | undefined {
  if (!host) return undefined
  return {
    hostname: host.hostname,
    os: host.os,
    arch: host.arch,
    runtimeVersion: host.runtimeVersion,
    cpus: host.cpus,
    memoryBytes: Number(host.memoryBytes),
  }
}

export function appliedRecords(report: AppliedReport | undefined): AppliedPipelineRecord[] {
  return (report?.pipelines ?? []).map((p) => ({
    name: p.name,
    version: p.version,
    hash: p.hash,
    state: p.state === ApplyState.FAILED ? 'failed' : 'applied',
    ...(p.error ? { error: p.error } : {}),
  }))
}

function statusRecord(status: AgentStatus | undefined): AgentStatusRecord | undefined {
  if (!status) return undefined
  return {
    runsActive: status.runsActive,
    outboxBatches: Number(status.outboxBatches),
    outboxBytes: Number(status.outboxBytes),
    outboxOldestAgeMs: Number(status.outboxOldestAgeMs),
    natsConnected: status.natsConnected,
    runsFailedRecently: status.runsFailedRecently,
    diskBudgetBytes: Number(status.diskBudgetBytes),
  }
}

const MAX_LABELS = 64

/** A heartbeat that changes nothing that matters is persisted at most this often. */
const PERSIST_EVERY_MS = 30_000

/** What about an agent's status changes its state or its alerts. */
function statusSignature(s: AgentStatusRecord | undefined): string {
  if (!s) return ''
  const backlogMinutes = Math.floor(s.outboxOldestAgeMs / 60_000)
  const diskTenths = s.diskBudgetBytes ? Math.floor((10 * s.outboxBytes) / s.diskBudgetBytes) : 0
  return [
    s.runsActive,
    s.runsFailedRecently,
    s.natsConnected,
    s.outboxBatches > 0,
    backlogMinutes,
    diskTenths,
  ].join(':')
}

export function registerAgentService(server: grpc.Server, options: AgentServiceOptions): void {
  const { store, sessions, events, log } = options

  const authenticate = async (metadata: grpc.Metadata): Promise<AgentRecord | string> => {
    const auth = String(metadata.get('authorization')[0] ?? '')
    const agentId = String(metadata.get('x-outpost-agent-id')[0] ?? '')
    if (!auth.startsWith('Bearer ') || !agentId) return 'missing agent credentials'
    const agent = await store.getAgent(agentId)
    if (!agent || !sameHash(agent.credentialHash, hashSecret(auth.slice(7))))
      return 'unknown agent or wrong credential'
    if (agent.revokedAt) return `agent ${agentId} has been revoked`
    return agent
  }

  addService(server, AgentService, {
    enroll(call, callback) {
      void (async () => {
        const request = call.request
        if (!request.token)
          return callback(statusError(grpc.status.UNAUTHENTICATED, 'an enrolment token is required'))
        const badLabel = Object.keys(request.labels).find(
          (k) => !/^[A-Za-z0-9]([A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$/.test(k),
        )
        if (badLabel !== undefined || Object.keys(request.labels).length > MAX_LABELS) {
          return callback(
            statusError(
              grpc.status.INVALID_ARGUMENT,
              `invalid label key "${badLabel ?? '(too many labels)'}"`,
            ),
          )
        }
        const token = await store.redeemToken(hashSecret(request.token), Date.now())
        if ('refused' in token) {
          log.warn('enrolment refused', { reason: token.refused, peer: call.getPeer() })
          return callback(statusError(grpc.status.UNAUTHENTICATED, token.refused))
        }
        let agentId = randomId('agt-')
        while (await store.getAgent(agentId)) agentId = randomId('agt-')
        const credential = newSecret('oac_')
        const labels = { ...token.labels, ...request.labels }
        const host = hostRecord(request.host)
        const agent: AgentRecord = {
          id: agentId,
          name: (request.name || request.host?.hostname || agentId).slice(0, 128),
          labels,
          credentialHash: hashSecret(credential),
          tokenId: token.id,
          enrolledAt: Date.now(),
          agentVersion: request.agentVersion,
          ...(host ? { host } : {}),
          connected: false,
          applied: [],
        }
        await store.putAgent(agent)
        events.emit('agent', agent)
        log.info('agent enrolled', { agentId, name: agent.name, token: token.id })
        await options.audit?.(`token:${token.id}`, 'agent.enroll', agentId, { name: agent.name, labels })
        callback(
          null,
          create(EnrollResponseSchema, {
            agentId,
            credential,
            labels,
            nats: create(NatsConnectionSchema, {
              servers: options.natsServers(),
              subjectPrefix: agentSubjectPrefix(agentId),
            }),
          }),
        )
      })().catch((error) => {
        log.error('enrolment failed', { error: (error as Error).message })
        callback(statusError(grpc.status.INTERNAL, 'enrolment failed'))
      })
    },

    sync(call) {
      void (async () => {
        const agent = await authenticate(call.metadata)
        if (typeof agent === 'string') {
          log.warn('agent refused', { reason: agent, peer: call.getPeer() })
          call.emit(
            'error',
            statusError(
              agent.includes('revoked') ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED,
              agent,
            ),
          )
          return
        }
        const previous = sessions.sessions.get(agent.id)
        const session: Session = {
          agentId: agent.id,
          call,
          sentSignature: '',
          lastMessageAt: Date.now(),
          statusSignature: '',
          persistedAt: 0,
          pending: new Map(),
        }
        sessions.sessions.set(agent.id, session)
        if (previous) {
          sessions.remove(previous)
          previous.call.emit(
            'error',
            statusError(grpc.status.ALREADY_EXISTS, 'replaced by a newer connection of the same agent'),
          )
        }
        const logSession = log.child({ agentId: agent.id })
        let queue = Promise.resolve()
        call.on('data', (message: SyncRequest) => {
          session.lastMessageAt = Date.now()
          queue = queue
            .then(() => handleMessage(session, message))
            .catch((error) => logSession.error('sync message failed', { error: (error as Error).message }))
        })
        const close = () => {
          if (!sessions.remove(session)) return
          void store
            .updateAgent(agent.id, (a) => ({ ...a, connected: false, lastSeenAt: Date.now() }))
            .then((a) => {
              if (a) events.emit('agent', a)
            })
          logSession.info('agent disconnected')
        }
        call.on('end', () => {
          close()
          call.end()
        })
        call.on('error', close)
        call.on('cancelled', close)
        call.on('close', close)
      })().catch((error) => {
        log.error('sync failed', { error: (error as Error).message })
        call.emit('error', statusError(grpc.status.INTERNAL, 'sync failed'))
      })
    },
  })

  const handleMessage = async (session: Session, message: SyncRequest): Promise<void> => {
    const now = Date.now()
    switch (message.message.case) {
      case 'hello': {
        const hello = message.message.value
        const host = hostRecord(hello.host)
        const natsKey =
          options.natsAuth && isUserPublicKey(hello.natsPublicKey) ? hello.natsPublicKey : undefined
        if (options.natsAuth && !natsKey)
          log.warn('agent sent no valid NATS key; it gets no NATS credential', { agentId: session.agentId })
        const updated = await store.updateAgent(session.agentId, (a) => ({
          ...a,
          ...(natsKey ? { natsKey } : {}),
          connected: true,
          lastSeenAt: now,
          agentVersion: hello.agentVersion,
          ...(host ? { host } : {}),
          applied: appliedRecords(hello.applied),
          appliedRevision: Number(hello.applied?.revision ?? 0n),
        }))
        if (!updated) return
        sessions.send(session, {
          case: 'welcome',
          value: create(WelcomeSchema, {
            agentId: updated.id,
            name: updated.name,
            labels: updated.labels,
            heartbeatIntervalMs: options.heartbeatIntervalMs,
            nats: create(NatsConnectionSchema, {
              servers: options.natsServers(),
              subjectPrefix: agentSubjectPrefix(updated.id),
              ...(options.natsAuth && natsKey
                ? {
                    userJwt: await options.natsAuth.issueAgentJwt(updated.id, natsKey),
                    inboxPrefix: agentInboxPrefix(updated.id),
                  }
                : {}),
            }),
          }),
        })
        await sessions.pushDesired(session, true)
        events.emit('agent', updated)
        log.info('agent connected', { agentId: updated.id, version: hello.agentVersion })
        break
      }
      case 'heartbeat': {
        // The stream itself says the agent is alive. A heartbeat is written to the store (and
        // announced) only when what it reports changed in a way that matters, or every
        // PERSIST_EVERY_MS, so thousands of agents heartbeating cost little.
        const status = statusRecord(message.message.value.status)
        const signature = statusSignature(status)
        if (signature === session.statusSignature && now - session.persistedAt < PERSIST_EVERY_MS) break
        session.statusSignature = signature
        session.persistedAt = now
        const updated = await store.updateAgent(session.agentId, (a) => ({
          ...a,
          connected: true,
          lastSeenAt: now,
          ...(status ? { status } : {}),
        }))
        if (updated) events.emit('agent', updated)
        break
      }
      case 'applied': {
        const report = message.message.value
        const updated = await store.updateAgent(session.agentId, (a) => ({
          ...a,
          lastSeenAt: now,
          applied: appliedRecords(report),
          appliedRevision: Number(report.revision),
        }))
        if (updated) events.emit('agent', updated)
        break
      }
      case 'commandResult':
        sessions.resolveCommand(session, message.message.value)
        break
      default:
        break
    }
  }
}
