/**
 * Publishes the outbox's `nats` lane to JetStream: each entry with its id as Nats-Msg-Id (so a
 * resend is dropped by the server as a duplicate), a bounded window in flight, and deletion only
 * after the JetStream ack. While NATS is unreachable entries simply wait; retries back off with
 * jitter.
 */
import { type JetStreamClient, jetstream } from '@nats-io/jetstream'
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node'
import type { NatsTlsFiles } from '../cli/command.js'
import type { Logger } from '../log.js'
import { Backoff } from '../runtime/backoff.js'
import { sleep } from '../runtime/run.js'
import { NATS_LANE, type Outbox, type OutboxRecord } from './outbox.js'

const PUBLISH_TIMEOUT_MS = 5000

export interface NatsSettings {
  servers: string[]
  user?: string
  password?: string
  /** Per-agent credential: a user JWT from the control plane and the agent's own nkey seed. */
  jwt?: string
  seed?: string
  /** Where JetStream acks come back; the credential allows no other inbox. */
  inboxPrefix?: string
  tls?: NatsTlsFiles
}

/** Settings whose change needs a new connection (a renewed JWT does not: it is read at each connect). */
function connectionKey(settings: NatsSettings | undefined): string {
  return JSON.stringify(settings ? { ...settings, jwt: settings.jwt !== undefined } : undefined)
}

export interface NatsForwarderOptions {
  outbox: Outbox
  log: Logger
  name: string
  /** Messages published before waiting for their acks. */
  window?: number
  /** Bytes published before waiting for their acks. */
  windowBytes?: number
}

export class NatsForwarder {
  private settings: NatsSettings | undefined
  private nc: NatsConnection | undefined
  private js: JetStreamClient | undefined
  private readonly abort = new AbortController()
  private loop: Promise<void> | undefined
  private wake: (() => void) | undefined
  private readonly onAppend = (lane: string) => {
    if (lane === NATS_LANE) this.wake?.()
  }
  published = 0
  /** Times the connection came back after it was lost. */
  reconnects = 0

  constructor(private readonly options: NatsForwarderOptions) {}

  get connected(): boolean {
    return this.nc !== undefined && !this.nc.isClosed() && this.nc.info !== undefined && !this.reconnecting
  }
  private reconnecting = false

  /** Starts, or switches to new servers/credentials (the running connection is replaced). */
  configure(settings: NatsSettings): void {
    const same = connectionKey(settings) === connectionKey(this.settings)
    this.settings = settings
    if (same && this.loop) return
    if (this.nc) {
      const old = this.nc
      this.nc = undefined
      this.js = undefined
      void old.close().catch(() => {})
    }
    if (!this.loop) {
      this.options.outbox.on('append', this.onAppend)
      this.loop = this.run()
    } else {
      this.wake?.()
    }
  }

  private async ensureConnection(backoff: Backoff): Promise<boolean> {
    if (this.nc && !this.nc.isClosed()) return true
    const settings = this.settings
    if (!settings || settings.servers.length === 0) return false
    try {
      const nc = await connect({
        servers: settings.servers,
        name: this.options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        reconnectJitter: 500,
        timeout: 5000,
        ...(settings.user ? { user: settings.user, pass: settings.password ?? '' } : {}),
        ...(settings.jwt && settings.seed
          ? {
              authenticator: jwtAuthenticator(
                () => this.settings?.jwt ?? settings.jwt ?? '',
                new TextEncoder().encode(settings.seed),
              ),
            }
          : {}),
        ...(settings.inboxPrefix ? { inboxPrefix: settings.inboxPrefix } : {}),
        ...(settings.tls ? { tls: settings.tls } : {}),
      })
      if (this.abort.signal.aborted) {
        // Stopped while connecting: stop() did not wait for this attempt.
        void nc.close().catch(() => {})
        return false
      }
      this.nc = nc
      this.js = jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS })
      this.reconnecting = false
      this.options.log.info('connected to NATS', { server: nc.getServer() })
      this.options.log.resetThrottle('nats-connect')
      void this.watchStatus(nc)
      backoff.reset()
      return true
    } catch (error) {
      this.options.log.throttled(
        'nats-connect',
        60_000,
        'warn',
        'cannot reach NATS; data waits in the outbox',
        {
          servers: settings.servers,
          error: (error as Error).message,
        },
      )
      return false
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.reconnecting = true
        this.options.log.warn('NATS connection lost; data waits in the outbox', { server: s.server })
      } else if (s.type === 'reconnect') {
        this.reconnecting = false
        this.reconnects++
        this.options.log.info('NATS connection back', { server: s.server })
        this.wake?.()
      }
    }
  }

  /**
   * A sliding window with slow start: after a (re)connect or a failure one message goes alone,
   * and the window doubles with every success up to its maximum. A server that just restarted
   * (JetStream still loading its streams) is not flooded with requests that will time out.
   */
  private async run(): Promise<void> {
    const { outbox, log } = this.options
    const maxWindow = this.options.window ?? 256
    const windowBytes = this.options.windowBytes ?? 16 * 1024 * 1024
    const backoff = new Backoff(500, 30_000)
    const signal = this.abort.signal
    let window = 1
    while (!signal.aborted) {
      if (!(await this.ensureConnection(backoff))) {
        window = 1
        await this.idle(backoff.next())
        continue
      }
      const js = this.js as JetStreamClient
      const inflight = new Map<number, { record: OutboxRecord; done: Promise<boolean> }>()
      let afterSeq = 0
      let inflightBytes = 0
      let failure: unknown
      while (!signal.aborted && failure === undefined) {
        // Fill the window.
        while (inflight.size < window && inflightBytes < windowBytes) {
          const [record] = outbox.read(NATS_LANE, afterSeq, 1)
          if (!record) break
          afterSeq = record.seq
          inflightBytes += record.bytes
          const done = js
            .publish(record.header.subject as string, record.payload, {
              msgID: record.header.id,
              timeout: PUBLISH_TIMEOUT_MS,
            })
            .then(
              () => true,
              (error: unknown) => {
                failure ??= error
                return false
              },
            )
          inflight.set(record.seq, { record, done })
        }
        if (inflight.size === 0) {
          await this.idle(1000)
          break
        }
        // Wait for the oldest message; acknowledged ones leave the outbox.
        const [seq, oldest] = inflight.entries().next().value as [
          number,
          { record: OutboxRecord; done: Promise<boolean> },
        ]
        const ok = await oldest.done
        // Stopped meanwhile: the state may be closing. What was acknowledged but not removed is
        // sent again next time, and dropped as a duplicate (Nats-Msg-Id, the central ledger).
        if (signal.aborted) return
        inflight.delete(seq)
        inflightBytes -= oldest.record.bytes
        if (ok) {
          await outbox.remove([oldest.record])
          this.published++
          window = Math.min(maxWindow, window * 2)
          if (backoff.attempts > 0) {
            log.resetThrottle('nats-publish')
            backoff.reset()
          }
        }
      }
      if (failure !== undefined) {
        // Let the rest settle, keep what was acknowledged, and start again from the oldest.
        for (const { record, done } of inflight.values()) {
          if ((await done) && !signal.aborted) {
            await outbox.remove([record])
            this.published++
          }
        }
        log.throttled('nats-publish', 60_000, 'warn', 'JetStream publish failed; will retry', {
          error: (failure as Error)?.message,
        })
        window = 1
        await this.idle(backoff.next())
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wake = undefined
        this.abort.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wake = done
      this.abort.signal.addEventListener('abort', done, { once: true })
    })
  }

  /** Publishes what is pending for up to `timeoutMs`, then closes the connection. */
  async stop(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.connected && this.options.outbox.read(NATS_LANE, 0, 1).length > 0 && Date.now() < deadline)
      await sleep(50)
    this.abort.abort()
    this.options.outbox.off('append', this.onAppend)
    // A connection attempt in flight (up to its 5 s timeout, longer through TLS trouble) is not
    // waited for: it closes itself when it ends.
    await Promise.race([this.loop?.catch(() => {}), sleep(1000)])
    const nc = this.nc
    this.nc = undefined
    if (nc) await nc.close().catch(() => {})
  }
}
