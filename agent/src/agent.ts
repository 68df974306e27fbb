/**
 * The agent process: enrols once, keeps the control stream, persists and runs its assigned
 * pipelines (the last-known-good set when the control plane is away), and delivers everything it
 * produces through the outbox.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import type { Server } from 'node:http'
import { cpus, hostname, totalmem } from 'node:os'
import { create } from '@bufbuild/protobuf'
import { createUser, fromSeed } from '@nats-io/nkeys'
import { METRICS, OUTPOST_VERSION, StateError } from '@outpost/shared'
import {
  type AgentStatus,
  AgentStatusSchema,
  type AppliedPipeline,
  AppliedPipelineSchema,
  type AppliedReport,
  AppliedReportSchema,
  ApplyState,
  type ClientCertificate,
  type Command,
  type CommandResult,
  CommandResultSchema,
  type DesiredState,
  type HostFacts,
  HostFactsSchema,
  type NatsConnection,
  ProbeKind,
} from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import type { NatsTlsFiles } from './cli/command.js'
import { ControlClient, type ControlTls, EnrollmentRefusedError } from './control/client.js'
import { type ClientKeyRequest, newClientKeyRequest } from './control/client-key.js'
import { FileRoots, specFilePaths } from './file-roots.js'
import type { Logger } from './log.js'
import { DiskBudget } from './outbox/budget.js'
import { NatsForwarder } from './outbox/nats-forwarder.js'
import { Outbox } from './outbox/outbox.js'
import { SinkDelivery } from './outbox/sink-delivery.js'
import { listQuarantine, replayTrigger } from './quarantine/quarantine.js'
import { Backoff } from './runtime/backoff.js'
import { type RunnablePipeline, toRunnable } from './runtime/pipeline.js'
import { executeRun, replayRefusal, sleep } from './runtime/run.js'
import { Scheduler } from './runtime/scheduler.js'
import { SecretResolver } from './secrets.js'
import {
  type AgentIdentity,
  AgentState,
  type ClientCertificateFiles,
  type StoredDesiredState,
} from './state/store.js'
import { serveLocalEndpoint } from './telemetry/local-endpoint.js'
import { AgentMetrics } from './telemetry/metrics.js'
import { PromMetrics } from './telemetry/prometheus.js'
import { WorkerPool } from './workers/pool.js'
import { DEFAULT_ROW_LIMITS, type RowLimits } from './workers/row-limits.js'

export interface AgentOptions {
  stateDir: string
  /** host:port of the control plane's gRPC listener. */
  controlPlane?: string
  /** Enrolment token, used only when the state directory holds no identity yet. */
  token?: string
  name?: string
  labels?: Record<string, string>
  /** NATS servers to use instead of those the control plane hands out. */
  natsServers?: string[]
  /** TLS to NATS. */
  natsTls?: NatsTlsFiles
  tls?: ControlTls
  threads?: number
  maxConcurrentRuns?: number
  metricsIntervalMs?: number
  chunkBytes?: number
  /** Bytes the outbox may hold before pipelines block or drop (default 1 GiB). */
  diskBudgetBytes?: number
  /** HOST:PORT for the local /metrics, /healthz and /readyz; off when absent. */
  metricsListen?: string
  /** Where ${secret:NAME} references resolve; default: OUTPOST_SECRET_* environment variables. */
  secrets?: SecretResolver
  /** Directories pipelines' files must be inside (file_roots); unset: anywhere. */
  fileRoots?: string[]
  /** Limits on the rows sources decode; unset ones keep DEFAULT_ROW_LIMITS. */
  limits?: Partial<RowLimits>
  log: Logger
}

export const DEFAULT_DISK_BUDGET = 1024 ** 3

/** An issued client certificate with less than this left is warned about at start. */
const CERTIFICATE_WARNING_MS = 30 * 86_400_000
/** How often the agent checks whether its issued client certificate is due for renewal. */
const RENEWAL_CHECK_MS = 3_600_000

export function hostFacts(): HostFacts {
  return create(HostFactsSchema, {
    hostname: hostname(),
    os: process.platform,
    arch: process.arch,
    runtimeVersion: process.version,
    cpus: cpus().length,
    memoryBytes: BigInt(totalmem()),
  })
}

export class Agent {
  private control: ControlClient | undefined
  private scheduler: Scheduler | undefined
  private forwarder: NatsForwarder | undefined
  private delivery: SinkDelivery | undefined
  private pool: WorkerPool | undefined
  private outbox: Outbox | undefined
  private metricsTimer: NodeJS.Timeout | undefined
  private localEndpoint: Server | undefined
  private applied: AppliedReport = create(AppliedReportSchema, { revision: 0n, pipelines: [] })
  private identity: AgentIdentity | undefined
  private readonly stopping = new AbortController()
  private readonly metrics = new AgentMetrics(() => this.identity?.agentId ?? 'unenrolled')
  private recentFailures = 0
  /** A certificate renewal being asked for, or asked for and not answered yet. */
  private renewal: Promise<ClientKeyRequest> | undefined
  private renewalTimer: NodeJS.Timeout | undefined

  private get secrets(): SecretResolver {
    this.options.secrets ??= new SecretResolver()
    return this.options.secrets
  }

  private readonly fileRoots: FileRoots | undefined
  private readonly limits: RowLimits

  private get diskBudget(): number {
    return this.options.diskBudgetBytes ?? DEFAULT_DISK_BUDGET
  }

  private constructor(
    readonly options: AgentOptions,
    readonly state: AgentState,
  ) {
    const roots = options.fileRoots ?? []
    this.fileRoots = roots.length > 0 ? new FileRoots(roots) : undefined
    this.limits = { ...DEFAULT_ROW_LIMITS, ...options.limits }
  }

  /** Opens the state directory, refusing one that another agent holds or that is damaged. */
  static open(options: AgentOptions): Agent {
    return new Agent(options, AgentState.open(options.stateDir))
  }

  /** Enrols when needed (waiting, with backoff, until it succeeds or `stop` is called) and starts everything. */
  async start(): Promise<void> {
    try {
      await this.boot()
    } catch (error) {
      await this.stop()
      throw error
    }
  }

  get agentId(): string | undefined {
    return this.identity?.agentId
  }

  private async boot(): Promise<void> {
    const { options, state } = this
    const log = options.log
    this.identity = state.identity
    if (this.identity && options.controlPlane && this.identity.controlPlane !== options.controlPlane) {
      this.identity = { ...this.identity, controlPlane: options.controlPlane }
      await state.setIdentity(this.identity)
    }
    const address = this.identity?.controlPlane ?? options.controlPlane
    if (!address) throw new StateError('this agent is not enrolled: give --control-plane and --token')
    const controlClient = () =>
      new ControlClient(address, this.controlTls(), log.child({ component: 'control' }), OUTPOST_VERSION)
    this.control = controlClient()
    if (!this.identity) {
      if (!options.token)
        throw new StateError(
          `this agent is not enrolled: give --token (an enrolment token from \`outpost token create\`)`,
        )
      this.identity = await this.enroll(this.control, address, options.token)
      if (!this.identity) return
      if (state.clientCertificate) {
        // Enrolment went without a client certificate; every later call shows the one just issued.
        await this.control.stop()
        this.control = controlClient()
      }
    }
    this.checkClientCertificate()
    if (!this.identity.natsSeed) {
      // The agent's NATS key is made here and stays here; the control plane signs its public half.
      this.identity = { ...this.identity, natsSeed: new TextDecoder().decode(createUser().getSeed()) }
      await state.setIdentity(this.identity)
    }
    const identity = this.identity
    const natsPublicKey = fromSeed(new TextEncoder().encode(identity.natsSeed as string)).getPublicKey()
    log.info('agent starting', {
      agentId: identity.agentId,
      controlPlane: address,
      stateDir: options.stateDir,
      version: OUTPOST_VERSION,
    })

    this.pool = new WorkerPool(options.threads !== undefined ? { threads: options.threads } : {})
    this.outbox = new Outbox(state)
    this.delivery = new SinkDelivery({
      agentId: identity.agentId,
      state,
      outbox: this.outbox,
      log: log.child({ component: 'sinks' }),
      secrets: this.secrets,
      fileRoots: this.fileRoots,
    })
    this.delivery.start()
    this.forwarder = new NatsForwarder({
      outbox: this.outbox,
      log: log.child({ component: 'nats' }),
      name: `outpost-agent-${identity.agentId}`,
    })
    // Without a NATS credential yet, give the control plane a moment to issue one in its Welcome
    // (a NATS server with per-agent credentials would refuse the attempt); then try without.
    if (identity.natsJwt || identity.natsUser) this.configureNats()
    else setTimeout(() => this.configureNats(), 5000).unref()

    const outbox = this.outbox
    const pool = this.pool
    const budget = new DiskBudget(outbox, this.diskBudget, log.child({ component: 'outbox' }))
    this.scheduler = new Scheduler(
      async (pipeline, trigger, signal) => {
        const outcome = await executeRun(
          pipeline,
          trigger,
          {
            agentId: identity.agentId,
            state,
            outbox,
            pool,
            metrics: this.metrics,
            log,
            reportRuns: true,
            secrets: this.secrets,
            ...(options.chunkBytes ? { chunkBytes: options.chunkBytes } : {}),
            budget,
            limits: this.limits,
            fileRoots: this.fileRoots,
          },
          signal,
        )
        this.recentFailures = outcome.status === 'failed' ? this.recentFailures + 1 : 0
        return outcome
      },
      log.child({ component: 'scheduler' }),
      options.maxConcurrentRuns ?? 2,
    )
    // Last-known-good: run what was assigned before, without waiting for the control plane.
    const desired = state.desired
    if (desired) {
      this.applied = this.applyDesired(desired)
      log.info('running last-known-good pipelines', {
        revision: desired.revision,
        pipelines: desired.pipelines.map((p) => `${p.name}@${p.version}`),
      })
    }
    this.metricsTimer = setInterval(() => void this.flushMetrics(), options.metricsIntervalMs ?? 10_000)
    this.metricsTimer.unref()
    if (options.metricsListen) await this.serveLocal(options.metricsListen)

    this.control.start(identity.agentId, identity.credential, {
      hello: () => ({ host: hostFacts(), applied: this.applied, natsPublicKey }),
      welcome: (welcome) => {
        void this.onWelcomeNats(welcome.nats)
        // A new stream: any renewal asked on an earlier one went unanswered.
        this.renewal = undefined
        this.renewCertificateIfDue()
      },
      desired: (d) => this.onDesired(d),
      command: (c) => this.onCommand(c),
      status: () => this.status(),
      clientCertificate: (answer) => this.onClientCertificate(answer),
    })
    this.renewalTimer = setInterval(() => this.renewCertificateIfDue(), RENEWAL_CHECK_MS)
    this.renewalTimer.unref()
  }

  /**
   * TLS to the control plane: the operator's client certificate when given (--tls-cert), else the
   * one the control plane issued at enrolment, kept in the state directory.
   */
  private controlTls(): ControlTls | undefined {
    const tls = this.options.tls
    if (!tls || tls.cert) return tls
    const issued = this.state.clientCertificate
    return issued ? { ...tls, ...issued } : tls
  }

  /** The client certificate the control plane issued, when this agent uses one (not an operator's). */
  private get issuedCertificate(): ClientCertificateFiles | undefined {
    return this.options.tls && !this.options.tls.cert ? this.state.clientCertificate : undefined
  }

  /**
   * Asks the control plane for a new certificate, for a new key, once less than a third of the
   * issued one's validity is left; the open stream, which the current certificate authenticated,
   * carries the request.
   */
  private renewCertificateIfDue(): void {
    const due = async () => {
      const issued = this.issuedCertificate
      if (!issued || this.renewal || this.stopping.signal.aborted) return
      const cert = new X509Certificate(issued.cert)
      const validFrom = Date.parse(cert.validFrom)
      const validTo = Date.parse(cert.validTo)
      if (validTo - Date.now() > (validTo - validFrom) / 3) return
      const renewal = newClientKeyRequest()
      this.renewal = renewal
      if (!this.control?.requestCertificate((await renewal).csrPem) && this.renewal === renewal)
        this.renewal = undefined
    }
    due().catch((error) => {
      this.renewal = undefined
      this.options.log.warn('cannot ask for a new client certificate; retrying later', {
        error: (error as Error).message,
      })
    })
  }

  private async onClientCertificate(answer: ClientCertificate): Promise<void> {
    const request = await this.renewal
    this.renewal = undefined
    if (!request) return
    const log = this.options.log
    if (!answer.certificate) {
      log.warn('client certificate renewal refused; retrying later', { error: answer.error })
      return
    }
    const cert = new X509Certificate(answer.certificate)
    if (!cert.checkPrivateKey(createPrivateKey(request.privateKeyPem))) {
      log.warn('the renewed client certificate is not for the key this agent sent; keeping the current one')
      return
    }
    this.state.setClientCertificate({
      key: Buffer.from(request.privateKeyPem),
      cert: Buffer.from(answer.certificate),
    })
    this.control?.useTls(this.controlTls())
    log.info('client certificate renewed', { expires: new Date(cert.validTo).toISOString() })
  }

  /** Says when the issued client certificate has expired or soon will: the control plane then refuses it. */
  private checkClientCertificate(): void {
    const issued = this.issuedCertificate
    if (!issued) return
    let validTo: string
    try {
      validTo = new X509Certificate(issued.cert).validTo
    } catch (error) {
      throw new StateError(
        `the agent's TLS client certificate in ${this.options.stateDir} is unreadable: ${(error as Error).message}`,
      )
    }
    const left = Date.parse(validTo) - Date.now()
    const fields = { expires: new Date(validTo).toISOString(), stateDir: this.options.stateDir }
    if (left <= 0)
      this.options.log.error(
        'the TLS client certificate issued at enrolment has expired; the control plane refuses it until the agent is enrolled again',
        fields,
      )
    else if (left < CERTIFICATE_WARNING_MS)
      this.options.log.warn(
        'the TLS client certificate issued at enrolment expires soon and was not renewed',
        fields,
      )
  }

  private async enroll(
    control: ControlClient,
    address: string,
    token: string,
  ): Promise<AgentIdentity | undefined> {
    const { options, state } = this
    const backoff = new Backoff(2000, 300_000)
    const name = options.name ?? hostname()
    // Over TLS without an operator's client certificate, ask the control plane to issue one: the
    // key is made here and only the CSR is sent; a control plane that issues none ignores it.
    const keyRequest = options.tls && !options.tls.cert ? await newClientKeyRequest() : undefined
    for (;;) {
      try {
        const response = await control.enroll(
          token,
          name,
          options.labels ?? {},
          hostFacts(),
          keyRequest?.csrPem,
        )
        if (keyRequest && response.clientCertificate)
          state.setClientCertificate({
            key: Buffer.from(keyRequest.privateKeyPem),
            cert: Buffer.from(response.clientCertificate),
          })
        const identity: AgentIdentity = {
          agentId: response.agentId,
          credential: response.credential,
          name,
          controlPlane: address,
          labels: response.labels,
          natsServers: response.nats?.servers ?? [],
          subjectPrefix: response.nats?.subjectPrefix ?? '',
          ...(response.nats?.user
            ? { natsUser: response.nats.user, natsPassword: response.nats.password }
            : {}),
          enrolledAt: Date.now(),
        }
        await state.setIdentity(identity)
        options.log.info('enrolled', {
          agentId: identity.agentId,
          controlPlane: address,
          clientCertificate: Boolean(keyRequest && response.clientCertificate),
        })
        return identity
      } catch (error) {
        const refused = error instanceof EnrollmentRefusedError
        options.log.throttled(
          'enroll',
          60_000,
          refused ? 'error' : 'warn',
          refused ? 'enrolment refused; check the token' : 'enrolment failed; retrying',
          {
            error: (error as Error).message,
          },
        )
        try {
          await sleep(backoff.next(), this.stopping.signal)
        } catch {
          return undefined
        }
      }
    }
  }

  /** Keeps what the control plane says about NATS (servers, credential) and reconnects if it changed. */
  private async onWelcomeNats(nats: NatsConnection | undefined): Promise<void> {
    const identity = this.identity
    if (!nats || !identity) return
    const next: AgentIdentity = {
      ...identity,
      natsServers: nats.servers.length > 0 ? nats.servers : identity.natsServers,
      ...(nats.user ? { natsUser: nats.user, natsPassword: nats.password } : {}),
      ...(nats.userJwt ? { natsJwt: nats.userJwt, natsInboxPrefix: nats.inboxPrefix } : {}),
    }
    if (JSON.stringify(next) !== JSON.stringify(identity)) {
      this.identity = next
      await this.state.setIdentity(next)
    }
    this.configureNats()
  }

  /** Points the forwarder at NATS with what the identity holds (servers, credential). */
  private configureNats(): void {
    const identity = this.identity
    const list = this.options.natsServers ?? identity?.natsServers ?? []
    if (list.length === 0 || !identity || this.stopping.signal.aborted) return
    this.forwarder?.configure({
      servers: list,
      ...(identity.natsUser ? { user: identity.natsUser, password: identity.natsPassword ?? '' } : {}),
      ...(identity.natsJwt && identity.natsSeed
        ? {
            jwt: identity.natsJwt,
            seed: identity.natsSeed,
            ...(identity.natsInboxPrefix ? { inboxPrefix: identity.natsInboxPrefix } : {}),
          }
        : {}),
      ...(this.options.natsTls ? { tls: this.options.natsTls } : {}),
    })
  }

  private applyDesired(desired: StoredDesiredState): AppliedReport {
    const runnables: RunnablePipeline[] = []
    const pipelines: AppliedPipeline[] = desired.pipelines.map((stored) => {
      const runnable = this.withinRoots(toRunnable(stored))
      if ('error' in runnable) {
        this.options.log.error('cannot apply pipeline', {
          pipeline: stored.name,
          version: stored.version,
          error: runnable.error,
        })
        return create(AppliedPipelineSchema, {
          name: stored.name,
          version: stored.version,
          hash: stored.hash,
          state: ApplyState.FAILED,
          error: runnable.error,
        })
      }
      runnables.push(runnable)
      return create(AppliedPipelineSchema, {
        name: stored.name,
        version: stored.version,
        hash: stored.hash,
        state: ApplyState.APPLIED,
      })
    })
    this.scheduler?.apply(runnables)
    return create(AppliedReportSchema, { revision: BigInt(desired.revision), pipelines })
  }

  /** A pipeline naming a file outside the agent's file_roots is not applied. */
  private withinRoots(runnable: ReturnType<typeof toRunnable>): ReturnType<typeof toRunnable> {
    const roots = this.fileRoots
    if (!roots || 'error' in runnable) return runnable
    const refusals = specFilePaths(runnable.pipeline.spec).flatMap(({ field, path }) => {
      // A path made of a secret is checked when the run resolves it.
      if (path.includes('${secret:')) return []
      const refused = roots.refusal(field, path)
      return refused ? [refused] : []
    })
    return refusals.length > 0 ? { error: refusals.join('; ') } : runnable
  }

  private async onDesired(message: DesiredState): Promise<AppliedReport> {
    const desired: StoredDesiredState = {
      revision: Number(message.revision),
      pipelines: message.pipelines.map((p) => ({
        name: p.name,
        version: p.version,
        hash: p.hash,
        specJson: p.specJson,
      })),
      receivedAt: Date.now(),
    }
    // Durable before acknowledged: a restart without the control plane runs exactly this.
    await this.state.setDesired(desired)
    this.applied = this.applyDesired(desired)
    this.options.log.info('desired state applied', {
      revision: desired.revision,
      pipelines: desired.pipelines.map((p) => `${p.name}@${p.version}`),
    })
    return this.applied
  }

  private async onCommand(command: Command): Promise<CommandResult> {
    const result = (ok: boolean, error = '', resultJson = '') =>
      create(CommandResultSchema, { commandId: command.commandId, ok, error, resultJson })
    switch (command.kind.case) {
      case 'runNow': {
        const name = command.kind.value.pipeline
        return this.scheduler?.trigger(name, 'command')
          ? result(true)
          : result(false, `pipeline "${name}" is not assigned to this agent`)
      }
      case 'probe': {
        const probe = command.kind.value
        const kinds = {
          [ProbeKind.TEST_CONNECTION]: 'test_connection',
          [ProbeKind.PREVIEW]: 'preview',
          [ProbeKind.SCHEMA]: 'schema',
        } as const
        const kind = kinds[probe.kind as keyof typeof kinds]
        if (!kind || !this.pool) return result(false, 'unknown probe kind')
        const { runProbe } = await import('./runtime/probe.js')
        const outcome = await runProbe(kind, probe.specJson, probe.target, probe.limit, {
          agentId: this.identity?.agentId ?? '',
          pool: this.pool,
          secrets: this.secrets,
          log: this.options.log.child({ component: 'probe' }),
          limits: this.limits,
          fileRoots: this.fileRoots,
        })
        return result(
          outcome.ok,
          outcome.error ?? '',
          outcome.result === undefined ? '' : JSON.stringify(outcome.result),
        )
      }
      case 'listQuarantine': {
        const { pipeline, runId, limit } = command.kind.value
        const listing = listQuarantine(this.state, pipeline, {
          ...(runId ? { runId } : {}),
          limit: limit || 20,
        })
        return result(true, '', JSON.stringify(listing))
      }
      case 'replayQuarantine': {
        const { pipeline, runId } = command.kind.value
        const runnable = this.scheduler?.pipelines().find((p) => p.name === pipeline)
        if (!runnable || !this.scheduler)
          return result(false, `pipeline "${pipeline}" is not assigned to this agent`)
        const refusal = replayRefusal(runnable)
        if (refusal) return result(false, refusal)
        const waiting = listQuarantine(this.state, pipeline, { ...(runId ? { runId } : {}), limit: 0 })
        if (waiting.replayable === 0)
          return result(true, '', JSON.stringify({ replayed: 0, kept: waiting.total, run: null }))
        const outcome = await this.scheduler.runAndWait(pipeline, replayTrigger(runId || undefined))
        if (!outcome) return result(false, 'the agent stopped before the replay ran')
        const left = listQuarantine(this.state, pipeline, { limit: 0 })
        return result(
          outcome.status === 'succeeded',
          outcome.status === 'succeeded' ? '' : (outcome.errors[0]?.message ?? `replay ${outcome.status}`),
          JSON.stringify({
            replayed: outcome.counts.rowsRead,
            written: outcome.counts.rowsWritten,
            filtered: outcome.counts.rowsFiltered,
            quarantinedAgain: outcome.counts.rowsQuarantined,
            left: left.total,
            run: { runId: outcome.runId, version: outcome.version, status: outcome.status },
          }),
        )
      }
      default:
        return result(
          false,
          `command ${command.kind.case ?? 'unknown'} is not supported by agent ${OUTPOST_VERSION}`,
        )
    }
  }

  private status(): AgentStatus {
    const stats = this.outbox?.stats()
    return create(AgentStatusSchema, {
      runsActive: this.scheduler?.activeRuns ?? 0,
      outboxBatches: BigInt(stats?.batches ?? 0),
      outboxBytes: BigInt(stats?.bytes ?? 0),
      outboxOldestAgeMs: BigInt(stats?.oldestCreatedAt ? Date.now() - stats.oldestCreatedAt : 0),
      natsConnected: this.forwarder?.connected ?? false,
      runsFailedRecently: this.recentFailures,
      diskBudgetBytes: BigInt(this.diskBudget),
    })
  }

  private async flushMetrics(): Promise<void> {
    if (!this.outbox) return
    const stats = this.outbox.stats()
    const entry = this.metrics.flush([
      { def: METRICS.outboxBatches, value: stats.batches },
      { def: METRICS.outboxBytes, value: stats.bytes },
      {
        def: METRICS.outboxOldestAge,
        value: stats.oldestCreatedAt ? Math.round((Date.now() - stats.oldestCreatedAt) / 1000) : 0,
      },
    ])
    if (entry)
      await this.outbox
        .append([entry])
        .catch((error) => this.options.log.warn('cannot store metrics', { error: (error as Error).message }))
  }

  private async serveLocal(listen: string): Promise<void> {
    const prometheus = new PromMetrics()
    this.metrics.exposeTo(prometheus)
    const stats = () => this.outbox?.stats()
    prometheus.gauge(METRICS.outboxBatches, () => [{ value: stats()?.batches ?? 0 }])
    prometheus.gauge(METRICS.outboxBytes, () => [{ value: stats()?.bytes ?? 0 }])
    prometheus.gauge(METRICS.outboxOldestAge, () => {
      const oldest = stats()?.oldestCreatedAt
      return [{ value: oldest ? (Date.now() - oldest) / 1000 : 0 }]
    })
    prometheus.gauge(METRICS.controlConnected, () => [{ value: this.control?.connected ? 1 : 0 }])
    prometheus.gauge(METRICS.natsConnected, () => [{ value: this.forwarder?.connected ? 1 : 0 }])
    prometheus.gauge(METRICS.natsReconnects, () => [{ value: this.forwarder?.reconnects ?? 0 }])
    const { server, address } = await serveLocalEndpoint(listen, prometheus, () => ({
      controlPlane: this.control?.connected ?? false,
      nats: this.forwarder?.connected ?? false,
      outboxWithinBudget: (stats()?.bytes ?? 0) < this.diskBudget,
    }))
    this.localEndpoint = server
    this.options.log.info('local endpoint listening', { address, paths: ['/metrics', '/healthz', '/readyz'] })
  }

  /** Runs a pipeline now; false when it is not assigned here. */
  runNow(name: string): boolean {
    return this.scheduler?.trigger(name, 'manual') ?? false
  }

  /**
   * Graceful stop: runs finish or checkpoint their current batch, pending messages get a few
   * seconds to reach NATS, and the state is closed. Safe to call twice.
   */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return
    this.stopping.abort()
    if (this.metricsTimer) clearInterval(this.metricsTimer)
    if (this.renewalTimer) clearInterval(this.renewalTimer)
    this.localEndpoint?.close()
    await this.scheduler?.stop()
    await this.flushMetrics()
    await this.control?.stop()
    await this.forwarder?.stop(3000)
    await this.delivery?.stop()
    await this.pool?.close()
    await this.state.close()
    this.options.log.info('agent stopped')
  }
}
