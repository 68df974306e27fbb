/** AgentService: enrolment and the Sync stream, on the control plane's side. */
import { TLSSocket } from 'node:tls'
import { create } from '@bufbuild/protobuf'
import * as grpc from '@grpc/grpc-js'
import type { Logger } from '@outpost/agent'
import { agentSubjectPrefix } from '@outpost/shared'
import {
  AgentService,
  type AgentStatus,
  type AppliedReport,
  ApplyState,
  ClientCertificateSchema,
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
import { AgentCertificateAuthority, CsrError, type Pkcs10CertificateRequest } from './client-certificates.js'
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
  /** Issues each agent a TLS client certificate at enrolment, and requires it on Sync. */
  clientCertificates?: AgentCertificateAuthority
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

/**
 * Why TLS did not verify a call's client certificate. grpc-js 1.14 shows a call only a verified
 * peer certificate (getAuthContext); the TLS socket under the call says what was wrong with any
 * other. Undefined when that socket cannot be reached (a grpc-js that moved it).
 */
function unverifiedCertificate(call: object): string | undefined {
  const socket = (call as { call?: { stream?: { session?: { socket?: unknown } } } }).call?.stream?.session
    ?.socket
  if (!(socket instanceof TLSSocket)) return undefined
  const peer = socket.getPeerCertificate()
  if (!peer || Object.keys(peer).length === 0) return 'no client certificate'
  const code = String(socket.authorizationError ?? '')
  if (code === 'CERT_HAS_EXPIRED') return `the client certificate expired on ${peer.valid_to}`
  if (code === 'CERT_NOT_YET_VALID') return `the client certificate is valid only from ${peer.valid_from}`
  return `the client certificate is not signed by the client CA (${code || 'not verified'})`
}

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

  /** Why the call's TLS client certificate does not prove it is this agent (when certificates are issued). */
  const certificateRefusal = (call: grpc.ServerDuplexStream<unknown, unknown>, agentId: string) => {
    const authority = options.clientCertificates
    if (!authority) return undefined
    const peer = call.getAuthContext()?.sslPeerCertificate
    const reason = peer?.raw
      ? authority.refusal(peer.raw, agentId)
      : (unverifiedCertificate(call) ??
        'no client certificate that the client CA signed and that is valid now')
    return (
      reason &&
      `${reason}; this control plane requires the client certificate issued to the agent at enrolment`
    )
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
        const authority = options.clientCertificates
        if (authority && !request.clientCsr)
          return callback(
            statusError(
              grpc.status.INVALID_ARGUMENT,
              'this control plane issues TLS client certificates at enrolment: the request needs a client_csr (start the agent with --tls or --tls-ca, without --tls-cert)',
            ),
          )
        let csr: Pkcs10CertificateRequest | undefined
        try {
          csr = authority ? await AgentCertificateAuthority.checkCsr(request.clientCsr) : undefined
        } catch (error) {
          if (!(error instanceof CsrError)) throw error
          return callback(statusError(grpc.status.INVALID_ARGUMENT, error.message))
        }
        const token = await store.redeemToken(hashSecret(request.token), Date.now())
        if ('refused' in token) {
          log.warn('enrolment refused', { reason: token.refused, peer: call.getPeer() })
          return callback(statusError(grpc.status.UNAUTHENTICATED, token.refused))
        }
        let agentId = randomId('agt-')
        while (await store.getAgent(agentId)) agentId = randomId('agt-')
        const credential = newSecret('oac_')
        const certificate = authority && csr ? await authority.issue(csr, agentId) : undefined
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
        await options.audit?.(`token:${token.id}`, 'agent.enroll', agentId, {
          name: agent.name,
          labels,
          ...(certificate
            ? {
                clientCertificate: {
                  serialNumber: certificate.serialNumber,
                  notAfter: certificate.notAfter.toISOString(),
                },
              }
            : {}),
        })
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
            clientCertificate: certificate?.pem ?? '',
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
        const refusal = certificateRefusal(call, agent.id)
        if (refusal) {
          log.warn('agent refused', { agentId: agent.id, reason: refusal, peer: call.getPeer() })
          call.emit('error', statusError(grpc.status.UNAUTHENTICATED, refusal))
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

  const renewCertificate = async (
    agentId: string,
    clientCsr: string,
  ): Promise<{ certificate: string } | { error: string }> => {
    const authority = options.clientCertificates
    if (!authority) return { error: 'this control plane does not issue client certificates' }
    try {
      const issued = await authority.issue(await AgentCertificateAuthority.checkCsr(clientCsr), agentId)
      log.info('client certificate renewed', { agentId, notAfter: issued.notAfter.toISOString() })
      await options.audit?.(`agent:${agentId}`, 'agent.certificate.renew', agentId, {
        serialNumber: issued.serialNumber,
        notAfter: issued.notAfter.toISOString(),
      })
      return { certificate: issued.pem }
    } catch (error) {
      if (!(error instanceof CsrError)) throw error
      log.warn('certificate renewal refused', { agentId, reason: error.message })
      return { error: error.message }
    }
  }

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
      case 'certificateRequest': {
        // The stream already showed this agent's current, valid certificate: renewing it is safe.
        const answer = await renewCertificate(session.agentId, message.message.value.clientCsr)
        sessions.send(session, { case: 'clientCertificate', value: create(ClientCertificateSchema, answer) })
        break
      }
      default:
        break
    }
  }
}
