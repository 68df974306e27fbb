/** One control-plane process: store, gRPC for agents, NATS ingest, REST API and console. */
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { type ServerType, serve } from '@hono/node-server'
import type { Logger } from '@outpost/agent'
import type { NatsTlsFiles } from '@outpost/agent/cli'
import { createApi } from './api/app.js'
import { auditTo } from './audit.js'
import { bootstrapAdminToken } from './auth/bootstrap.js'
import type { ControlPlaneContext } from './context.js'
import { EventBus } from './events.js'
import {
  AlertManager,
  chatNotifier,
  type EmailSettings,
  emailNotifier,
  webhookNotifier,
} from './fleet/alerts.js'
import { PipelineCatalog } from './fleet/catalog.js'
import { RolloutController } from './fleet/rollouts.js'
import { AgentStateHistory } from './fleet/state-history.js'
import { registerAgentService } from './grpc/agent-service.js'
import { AgentCertificateAuthority } from './grpc/client-certificates.js'
import { SessionRegistry } from './grpc/sessions.js'
import { CentralIngest } from './ingest/central.js'
import { TelemetryIngest } from './ingest/telemetry.js'
import { controlPlaneMetrics } from './metrics.js'
import { NatsAuth } from './nats/auth.js'
import { NatsLink } from './nats/link.js'
import { LmdbStore } from './store/lmdb.js'
import { PostgresStore } from './store/postgres.js'
import type { Store } from './store/types.js'
import { ParquetWarehouse } from './warehouse/parquet.js'
import { PostgresWarehouse } from './warehouse/postgres.js'
import type { Warehouse } from './warehouse/types.js'

export interface ControlPlaneOptions {
  dataDir: string
  /** host:port for agents' gRPC; port 0 picks a free one. */
  grpcListen: string
  httpHost: string
  /** 0 picks a free port. */
  httpPort: number
  natsServers: string[]
  /** NATS URLs handed to agents, when they differ from the control plane's own. */
  natsPublic?: string[]
  /** Directory of `outpost nats-auth init`: per-agent NATS credentials and revocation. */
  natsAuth?: string
  /** TLS to NATS: the CA that signed the servers' certificates; a client certificate when asked. */
  natsTls?: NatsTlsFiles
  consoleDir?: string
  heartbeatIntervalMs?: number
  /** PostgreSQL URL of the central warehouse; without it, central tables are Parquet files in the data directory. */
  warehouseUrl?: string
  log: Logger
  store?: Store
  /** PostgreSQL URL of the store, for several replicas; without it, the embedded LMDB store. */
  storeUrl?: string
  /** URLs that receive alert notifications (JSON POSTs). */
  alertWebhooks?: string[]
  /** Signs webhook bodies: X-Outpost-Signature: sha256=<HMAC-SHA256 hex>. */
  alertWebhookSecret?: string
  /** Chat webhooks (Slack format) that receive alert notifications. */
  alertChatWebhooks?: string[]
  /** E-mail for alert notifications over SMTP. */
  alertEmail?: Omit<EmailSettings, 'consoleUrl'>
  /** The console's address as people reach it, for links in notifications. */
  consoleUrl?: string
  /** How often alert rules are evaluated (also on every agent, run and rollout change). */
  alertIntervalMs?: number
  /**
   * TLS for the agents' gRPC listener (PEM). With clientCa alone, agents must show a certificate
   * it signed on every call; with clientCaKey too, the control plane issues each agent its
   * certificate at enrolment (enrolment needs none) and Sync needs the one issued to that agent.
   */
  grpcTls?: { cert: Buffer; key: Buffer; clientCa?: Buffer; clientCaKey?: Buffer }
}

/** Fixed certificates, in the shape of grpc-js's certificate providers. */
function fixedCertificates(ca: Buffer, cert: Buffer, key: Buffer): grpc.experimental.CertificateProvider {
  return {
    addCaCertificateListener: (listener) => process.nextTick(listener, { caCertificate: ca }),
    removeCaCertificateListener: () => {},
    addIdentityCertificateListener: (listener) =>
      process.nextTick(listener, { certificate: cert, privateKey: key }),
    removeIdentityCertificateListener: () => {},
  }
}

function serverCredentials(tls: ControlPlaneOptions['grpcTls']): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure()
  // grpc-js's createSsl either requires a client certificate on every call or never asks for one.
  // Its certificate-provider credentials ask without requiring (TLS still verifies what is shown
  // against the client CA), so enrolment works without one and Sync checks it per call.
  if (tls.clientCa && tls.clientCaKey) {
    const certificates = fixedCertificates(tls.clientCa, tls.cert, tls.key)
    return grpc.experimental.createCertificateProviderServerCredentials(certificates, certificates, false)
  }
  return grpc.ServerCredentials.createSsl(
    tls.clientCa ?? null,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    tls.clientCa !== undefined,
  )
}

export class ControlPlane {
  private sweep: NodeJS.Timeout | undefined

  private constructor(
    readonly context: ControlPlaneContext,
    private readonly grpcServer: grpc.Server,
    private readonly http: ServerType,
    readonly grpcPort: number,
    readonly httpPort: number,
    private readonly heartbeatMs: number,
  ) {}

  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const log = options.log
    const clientCertificates =
      options.grpcTls?.clientCa && options.grpcTls.clientCaKey
        ? await AgentCertificateAuthority.load(options.grpcTls.clientCa, options.grpcTls.clientCaKey)
        : undefined
    const store: Store =
      options.store ??
      (options.storeUrl ? await PostgresStore.open(options.storeUrl) : new LmdbStore(options.dataDir))
    const events = new EventBus()
    const stateHistory = new AgentStateHistory(store, events, log.child({ component: 'state-history' }))
    // Nobody is connected to a process that just started (with replicas, others may be). The
    // agents it had went offline when it stopped, last heard of then.
    if (!store.onChange)
      for (const agent of await store.listAgents())
        if (agent.connected) {
          const offline = { ...agent, connected: false }
          await store.putAgent(offline)
          await stateHistory.observe(offline, agent.lastSeenAt ?? Date.now())
        }
    const catalog = new PipelineCatalog(store, events)
    const sessions = new SessionRegistry(store, catalog)
    const natsAuth = options.natsAuth ? NatsAuth.load(options.natsAuth) : undefined
    const nats = new NatsLink({
      servers: options.natsServers,
      log: log.child({ component: 'nats' }),
      ...(options.natsTls ? { tls: options.natsTls } : {}),
      ...(natsAuth ? { auth: natsAuth, revocations: () => natsRevocations(store) } : {}),
    })
    const ingest = new TelemetryIngest(nats, store, events, log.child({ component: 'ingest' }))
    const warehouse: Warehouse = options.warehouseUrl
      ? new PostgresWarehouse(options.warehouseUrl, log.child({ component: 'warehouse' }))
      : new ParquetWarehouse(join(options.dataDir, 'warehouse'), log.child({ component: 'warehouse' }))
    const central = new CentralIngest(nats, warehouse, store, events, log.child({ component: 'central' }))
    const audit = auditTo(store, log, events)
    const rollouts = new RolloutController(store, events, audit, log.child({ component: 'rollouts' }))
    const alertLog = log.child({ component: 'alerts' })
    const alerts = new AlertManager(
      store,
      events,
      audit,
      alertLog,
      [
        ...(options.alertWebhooks ?? []).map((url) =>
          webhookNotifier(url, options.alertWebhookSecret, alertLog),
        ),
        ...(options.alertChatWebhooks ?? []).map((url) => chatNotifier(url, options.consoleUrl, alertLog)),
        ...(options.alertEmail
          ? [
              await emailNotifier(
                { ...options.alertEmail, ...(options.consoleUrl ? { consoleUrl: options.consoleUrl } : {}) },
                alertLog,
              ),
            ]
          : []),
      ],
      options.alertIntervalMs ?? 5000,
    )
    const context: ControlPlaneContext = {
      store,
      events,
      sessions,
      catalog,
      nats,
      ingest,
      central,
      warehouse,
      log,
      audit,
      rollouts,
      alerts,
      stateHistory,
      prometheus: controlPlaneMetrics(store, sessions, events),
    }
    await bootstrapAdminToken(store, options.dataDir, log)
    events.on('pipelines', () => void sessions.pushAll())
    // Another replica changed what agents should run: recompute, push, re-evaluate.
    await store.onChange?.(() => {
      events.emit('pipelines', { name: '*' })
      rollouts.schedule()
      alerts.schedule()
    })

    const heartbeatMs = options.heartbeatIntervalMs ?? 10_000
    const grpcServer = new grpc.Server({
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
    })
    registerAgentService(grpcServer, {
      store,
      ...(clientCertificates ? { clientCertificates } : {}),
      sessions,
      events,
      log: log.child({ component: 'grpc' }),
      natsServers: () => options.natsPublic ?? options.natsServers,
      ...(natsAuth ? { natsAuth } : {}),
      heartbeatIntervalMs: heartbeatMs,
      audit: context.audit,
    })
    const grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync(options.grpcListen, serverCredentials(options.grpcTls), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    )

    const app = createApi(context, options.consoleDir ? { consoleDir: options.consoleDir } : {})
    const { http, port: httpPort } = await new Promise<{ http: ServerType; port: number }>(
      (resolve, reject) => {
        const server = serve(
          { fetch: app.fetch, hostname: options.httpHost, port: options.httpPort },
          (info: AddressInfo) => resolve({ http: server, port: info.port }),
        )
        server.once('error', reject)
      },
    )
    stateHistory.start()
    ingest.start()
    central.start()
    rollouts.start()
    alerts.start()
    const cp = new ControlPlane(context, grpcServer, http, grpcPort, httpPort, heartbeatMs)
    cp.sweep = setInterval(() => cp.dropSilentAgents(), Math.min(5000, heartbeatMs))
    cp.sweep.unref()
    log.info('control plane started', {
      warehouse: warehouse.kind,
      grpc: `${options.grpcListen.replace(/:\d+$/, '')}:${grpcPort}`,
      http: `http://${options.httpHost}:${httpPort}`,
      dataDir: options.dataDir,
    })
    return cp
  }

  /** Closes streams that went quiet (no heartbeat for three intervals); the agent reconnects if alive. */
  private dropSilentAgents(): void {
    const limit = Date.now() - this.heartbeatMs * 3
    for (const session of this.context.sessions.sessions.values()) {
      if (session.lastMessageAt < limit) {
        this.context.log.warn('agent silent; closing its stream', { agentId: session.agentId })
        session.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'no heartbeat' })
      }
    }
  }

  async stop(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep)
    this.context.rollouts.stop()
    this.context.alerts.stop()
    this.context.ingest.stop()
    this.context.central.stop()
    for (const session of this.context.sessions.sessions.values())
      session.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'control plane shutting down' })
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown()
        resolve()
      }, 3000)
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer)
        resolve()
      })
    })
    ;(this.http as import('node:http').Server).closeAllConnections?.()
    await new Promise<void>((resolve) => this.http.close(() => resolve()))
    await this.context.nats.close()
    await this.context.warehouse.close()
    await this.context.stateHistory.stop()
    await this.context.store.close()
  }
}

/** Revoked agents' NATS keys, as the account JWT lists them (unix seconds). */
export async function natsRevocations(store: Store): Promise<Record<string, number>> {
  const revocations: Record<string, number> = {}
  for (const agent of await store.listAgents())
    if (agent.revokedAt && agent.natsKey) revocations[agent.natsKey] = Math.floor(agent.revokedAt / 1000)
  return revocations
}
