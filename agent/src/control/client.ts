/**
 * The agent's side of the control channel: enrol once with a token, then keep one Sync stream to
 * the control plane open, reconnecting with backoff and jitter. Refusals (unknown or revoked
 * credentials) are logged once per minute, not per attempt.
 */
import { create } from '@bufbuild/protobuf'
import * as grpc from '@grpc/grpc-js'
import {
  AgentService,
  type AgentStatus,
  type AppliedReport,
  CertificateRequestSchema,
  type ClientCertificate,
  type Command,
  type CommandResult,
  type DesiredState,
  EnrollRequestSchema,
  type EnrollResponse,
  HeartbeatSchema,
  HelloSchema,
  type HostFacts,
  type SyncRequest,
  SyncRequestSchema,
  type SyncResponse,
  type Welcome,
} from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import { createClient, type ServiceClient } from '@outpost/shared/rpc'
import type { Logger } from '../log.js'
import { Backoff } from '../runtime/backoff.js'
import { sleep } from '../runtime/run.js'

export interface ControlTls {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
}

export interface SyncHandlers {
  hello(): { host: HostFacts; applied: AppliedReport; natsPublicKey?: string }
  welcome(welcome: Welcome): void
  /** Persist and apply; resolves with what was applied, which is reported back. */
  desired(state: DesiredState): Promise<AppliedReport>
  command(command: Command): Promise<CommandResult>
  status(): AgentStatus
  /** The control plane's answer to `requestCertificate`. */
  clientCertificate?(answer: ClientCertificate): Promise<void>
}

export class EnrollmentRefusedError extends Error {
  override name = 'EnrollmentRefusedError'
}

const GRPC_OPTIONS: grpc.ClientOptions = {
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 1000,
  'grpc.max_reconnect_backoff_ms': 30_000,
}

export function channelCredentials(tls: ControlTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure()
  return grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
}

export function describeGrpcError(error: unknown): string {
  const e = error as grpc.ServiceError
  if (typeof e?.code === 'number') return `${grpc.status[e.code] ?? e.code}: ${e.details || e.message}`
  return (error as Error)?.message ?? String(error)
}

export class ControlClient {
  private client: ServiceClient<(typeof AgentService)['method']>
  /** Clients replaced by `useTls`, closed once the stream they carry has ended. */
  private readonly retired: ServiceClient<(typeof AgentService)['method']>[] = []
  private call: grpc.ClientDuplexStream<SyncRequest, SyncResponse> | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private readonly abort = new AbortController()
  private loop: Promise<void> | undefined
  connected = false
  lastError: string | undefined

  constructor(
    private readonly address: string,
    tls: ControlTls | undefined,
    private readonly log: Logger,
    private readonly agentVersion: string,
  ) {
    this.client = createClient(AgentService, address, channelCredentials(tls), GRPC_OPTIONS) as never
  }

  /** Later connections use these TLS settings (a renewed client certificate); the open stream stays. */
  useTls(tls: ControlTls | undefined): void {
    this.retired.push(this.client)
    this.client = createClient(AgentService, this.address, channelCredentials(tls), GRPC_OPTIONS) as never
  }

  /** Asks for a new client certificate over the open stream; false when none is open. */
  requestCertificate(clientCsr: string): boolean {
    if (!this.call || !this.connected) return false
    this.call.write(
      create(SyncRequestSchema, {
        message: { case: 'certificateRequest', value: create(CertificateRequestSchema, { clientCsr }) },
      }),
    )
    return true
  }

  /** One enrolment attempt; refusals throw EnrollmentRefusedError, network trouble a plain error. */
  async enroll(
    token: string,
    name: string,
    labels: Record<string, string>,
    host: HostFacts,
    clientCsr = '',
  ): Promise<EnrollResponse> {
    try {
      return await this.client.enroll(
        create(EnrollRequestSchema, {
          token,
          name,
          labels,
          agentVersion: this.agentVersion,
          host,
          clientCsr,
        }),
        new grpc.Metadata(),
        { deadline: Date.now() + 15_000 },
      )
    } catch (error) {
      const code = (error as grpc.ServiceError).code
      if (
        code === grpc.status.UNAUTHENTICATED ||
        code === grpc.status.PERMISSION_DENIED ||
        code === grpc.status.INVALID_ARGUMENT
      ) {
        throw new EnrollmentRefusedError(`enrolment refused by ${this.address}: ${describeGrpcError(error)}`)
      }
      throw new Error(`cannot reach the control plane at ${this.address}: ${describeGrpcError(error)}`)
    }
  }

  /** Keeps a Sync stream open until `stop`. */
  start(agentId: string, credential: string, handlers: SyncHandlers): void {
    this.loop ??= this.syncLoop(agentId, credential, handlers)
  }

  private async syncLoop(agentId: string, credential: string, handlers: SyncHandlers): Promise<void> {
    const backoff = new Backoff(1000, 30_000)
    while (!this.abort.signal.aborted) {
      const started = Date.now()
      try {
        await this.syncOnce(agentId, credential, handlers)
        this.log.warn('control stream ended; reconnecting')
      } catch (error) {
        const e = error as grpc.ServiceError
        this.lastError = describeGrpcError(error)
        if (this.abort.signal.aborted) break
        const refused = e.code === grpc.status.UNAUTHENTICATED || e.code === grpc.status.PERMISSION_DENIED
        this.log.throttled(
          'control-sync',
          60_000,
          refused ? 'error' : 'warn',
          refused
            ? 'control plane refused this agent'
            : 'control plane unreachable; running last-known-good pipelines',
          {
            address: this.address,
            error: this.lastError,
          },
        )
      } finally {
        this.connected = false
        if (this.heartbeat) clearInterval(this.heartbeat)
        for (const client of this.retired.splice(0)) client.close()
      }
      // A stream that stayed up for a while starts the backoff over.
      if (Date.now() - started > 60_000) backoff.reset()
      try {
        await sleep(backoff.next(), this.abort.signal)
      } catch {
        break
      }
    }
  }

  private syncOnce(agentId: string, credential: string, handlers: SyncHandlers): Promise<void> {
    return new Promise((resolve, reject) => {
      const metadata = new grpc.Metadata()
      metadata.set('authorization', `Bearer ${credential}`)
      metadata.set('x-outpost-agent-id', agentId)
      const call = this.client.sync(metadata)
      this.call = call
      let settled = false
      const finish = (error?: unknown) => {
        if (settled) return
        settled = true
        this.call = undefined
        if (error) reject(error)
        else resolve()
      }
      const onAbort = () => call.cancel()
      this.abort.signal.addEventListener('abort', onAbort, { once: true })
      call.on('error', (error) => {
        this.abort.signal.removeEventListener('abort', onAbort)
        finish(error)
      })
      call.on('end', () => {
        this.abort.signal.removeEventListener('abort', onAbort)
        finish()
      })
      // Work on messages one at a time, in order: desired states must not overtake each other.
      let queue = Promise.resolve()
      call.on('data', (message: SyncResponse) => {
        queue = queue
          .then(() => this.handle(message, handlers, call))
          .catch((error) => {
            this.log.error('handling a control message failed', { error: (error as Error).message })
          })
      })
      const { host, applied, natsPublicKey } = handlers.hello()
      call.write(
        create(SyncRequestSchema, {
          message: {
            case: 'hello',
            value: create(HelloSchema, {
              agentVersion: this.agentVersion,
              host,
              applied,
              ...(natsPublicKey ? { natsPublicKey } : {}),
            }),
          },
        }),
      )
    })
  }

  private async handle(
    message: SyncResponse,
    handlers: SyncHandlers,
    call: grpc.ClientDuplexStream<SyncRequest, SyncResponse>,
  ): Promise<void> {
    switch (message.message.case) {
      case 'welcome': {
        const welcome = message.message.value
        if (!this.connected) {
          this.connected = true
          this.lastError = undefined
          this.log.resetThrottle('control-sync')
          this.log.info('connected to control plane', { address: this.address })
        }
        handlers.welcome(welcome)
        const interval = Math.max(1000, welcome.heartbeatIntervalMs || 10_000)
        if (this.heartbeat) clearInterval(this.heartbeat)
        this.heartbeat = setInterval(() => {
          if (this.call !== call) return
          call.write(
            create(SyncRequestSchema, {
              message: {
                case: 'heartbeat',
                value: create(HeartbeatSchema, { sentAtMs: BigInt(Date.now()), status: handlers.status() }),
              },
            }),
          )
        }, interval)
        this.heartbeat.unref()
        break
      }
      case 'desiredState': {
        const applied = await handlers.desired(message.message.value)
        if (this.call === call)
          call.write(create(SyncRequestSchema, { message: { case: 'applied', value: applied } }))
        break
      }
      case 'command': {
        const result = await handlers.command(message.message.value)
        if (this.call === call)
          call.write(create(SyncRequestSchema, { message: { case: 'commandResult', value: result } }))
        break
      }
      case 'clientCertificate':
        await handlers.clientCertificate?.(message.message.value)
        break
      default:
        break
    }
  }

  async stop(): Promise<void> {
    this.abort.abort()
    this.call?.end()
    this.call?.cancel()
    if (this.heartbeat) clearInterval(this.heartbeat)
    await this.loop?.catch(() => {})
    for (const client of [...this.retired.splice(0), this.client]) client.close()
  }
}
