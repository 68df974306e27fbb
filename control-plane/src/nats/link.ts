/**
 * The control plane's NATS connection. It starts without NATS and keeps trying, so the API and
 * the agents' control streams work while NATS is down; consumers start once it is reachable.
 */
import { type ConsumerConfig, type JetStreamManager, jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node'
import type { Logger } from '@outpost/agent'
import type { NatsTlsFiles } from '@outpost/agent/cli'
import { STREAMS } from '@outpost/shared'
import type { NatsAuth } from './auth.js'

export interface NatsLinkOptions {
  servers: string[]
  log: Logger
  user?: string
  password?: string
  /** Per-agent credentials: the control plane connects with its own JWT and pushes revocations. */
  auth?: NatsAuth
  /** TLS files; the connection then insists on TLS. */
  tls?: NatsTlsFiles
  /** Revoked agents' NATS keys → unix seconds; pushed to the servers on connect and on demand. */
  revocations?: () => Promise<Record<string, number>>
  /** How long JetStream keeps undelivered messages. */
  maxAgeMs?: number
  /** The dedupe window for Nats-Msg-Id. */
  duplicateWindowMs?: number
}

export class NatsLink {
  nc: NatsConnection | undefined
  private readonly abort = new AbortController()
  private readonly ready: Promise<NatsConnection>
  private connectedNow = false

  constructor(private readonly options: NatsLinkOptions) {
    this.ready = this.connectLoop()
    this.ready.catch(() => {})
  }

  get connected(): boolean {
    return this.connectedNow
  }

  /** Resolves once connected and the streams exist. */
  whenReady(): Promise<NatsConnection> {
    return this.ready
  }

  private async connectLoop(): Promise<NatsConnection> {
    let delay = 500
    for (;;) {
      if (this.abort.signal.aborted) throw new Error('stopped')
      try {
        const nc = await connect({
          servers: this.options.servers,
          name: 'outpost-control-plane',
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
          timeout: 5000,
          ...(this.options.user ? { user: this.options.user, pass: this.options.password ?? '' } : {}),
          ...(this.options.auth
            ? { authenticator: await this.options.auth.controlPlaneAuthenticator() }
            : {}),
          ...(this.options.tls ? { tls: this.options.tls } : {}),
        })
        this.nc = nc
        await this.ensureStreams(await jetstreamManager(nc))
        void this.pushRevocations().catch(() => {})
        this.connectedNow = true
        this.options.log.info('connected to NATS', { server: nc.getServer() })
        void this.watch(nc)
        return nc
      } catch (error) {
        this.options.log.throttled('cp-nats', 60_000, 'warn', 'cannot reach NATS; retrying', {
          servers: this.options.servers,
          error: (error as Error).message,
        })
        if (this.nc) await this.nc.close().catch(() => {})
        this.nc = undefined
        await new Promise((r) => setTimeout(r, delay))
        delay = Math.min(delay * 2, 10_000)
      }
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connectedNow = false
        this.options.log.warn('NATS connection lost', { server: s.server })
      } else if (s.type === 'reconnect') {
        this.connectedNow = true
        this.options.log.info('NATS connection back', { server: s.server })
        void this.pushRevocations().catch(() => {})
        // A restarted server without persistent storage may have lost the streams.
        void jetstreamManager(nc)
          .then((jsm) => this.ensureStreams(jsm))
          .catch((error) =>
            this.options.log.warn('cannot check streams', { error: (error as Error).message }),
          )
      }
    }
  }

  /**
   * Brings the servers' revocation list up to date with the store: connected revoked agents are
   * cut off, and refused from then on. A no-op without per-agent credentials.
   */
  async pushRevocations(): Promise<void> {
    const { auth, revocations } = this.options
    if (!auth || !revocations) return
    try {
      const system = await connect({
        servers: this.options.servers,
        name: 'outpost-control-plane-system',
        timeout: 5000,
        maxReconnectAttempts: 0,
        authenticator: await auth.systemAuthenticator(),
        ...(this.options.tls ? { tls: this.options.tls } : {}),
      })
      try {
        await auth.pushAccount(system, await revocations())
      } finally {
        await system.close()
      }
    } catch (error) {
      this.options.log.throttled(
        'nats-revocations',
        60_000,
        'warn',
        'cannot update NATS revocations; retried on reconnect',
        {
          error: (error as Error).message,
        },
      )
      throw error
    }
  }

  private async ensureStreams(jsm: JetStreamManager): Promise<void> {
    const maxAge = nanos(this.options.maxAgeMs ?? 7 * 86_400_000)
    const duplicateWindow = nanos(this.options.duplicateWindowMs ?? 2 * 60_000)
    for (const stream of Object.values(STREAMS)) {
      const config = {
        name: stream.name,
        subjects: [...stream.subjects],
        storage: StorageType.File,
        max_age: maxAge,
        duplicate_window: duplicateWindow,
      }
      try {
        await jsm.streams.info(stream.name)
        await jsm.streams.update(stream.name, config)
      } catch {
        await jsm.streams.add(config)
      }
    }
  }

  async close(): Promise<void> {
    this.abort.abort()
    const nc = this.nc
    this.nc = undefined
    this.connectedNow = false
    if (nc) await nc.drain().catch(() => nc.close())
  }
}

/** Creates a durable consumer, or brings an existing one to this configuration. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  try {
    await jsm.consumers.info(stream, config.durable_name)
    await jsm.consumers.update(stream, config.durable_name, config)
  } catch {
    await jsm.consumers.add(stream, config)
  }
}
