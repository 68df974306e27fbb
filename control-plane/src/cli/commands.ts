import { existsSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type Command,
  EXIT,
  loggerFromFlags,
  natsTlsFiles,
  parseFlags,
  parseLabels,
  UsageError,
  untilSignal,
} from '@outpost/agent/cli'
import { formatSpecError, parseDuration, parsePipelines } from '@outpost/shared'
import { ApiClientError, clientFrom } from './api-client.js'

const SERVER_FLAG = { server: { type: 'string' } } as const

function hostPort(value: string, flag: string): { host: string; port: number } {
  const at = value.lastIndexOf(':')
  const port = Number(value.slice(at + 1))
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--${flag} expects HOST:PORT, got "${value}"`)
  return { host: value.slice(0, at) || '0.0.0.0', port }
}

/** The built console beside the bundle (dist/console), or the workspace's build output. */
export function defaultConsoleDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url))
  return [join(here, 'console'), join(here, '../../console/dist'), join(here, '../../../console/dist')].find(
    (dir) => existsSync(join(dir, 'index.html')),
  )
}

export const controlPlaneCommand: Command = {
  name: 'control-plane',
  service: true,
  summary: 'Run the control plane: gRPC for agents, REST API and console, embedded store.',
  usage: `Usage: outpost control-plane [flags]

  --data-dir DIR          embedded store (env OUTPOST_DATA_DIR; default ./.outpost/control-plane)
  --grpc-listen HOST:PORT where agents connect (default 0.0.0.0:7400)
  --http-listen HOST:PORT REST API and console (default 127.0.0.1:7080)
  --nats URL              NATS with JetStream; repeatable (env NATS_URL; default nats://127.0.0.1:4222)
  --nats-public URL       NATS URL handed to agents when it differs; repeatable
  --nats-auth DIR         per-agent NATS credentials from \`outpost nats-auth init DIR\` (env OUTPOST_NATS_AUTH)
  --nats-tls-ca FILE      verify the NATS servers' certificates with this CA (PEM)
  --nats-tls-cert FILE, --nats-tls-key FILE  client certificate, when NATS asks for one
  --console-dir DIR       built console files (default: the bundled console)
  --heartbeat MS          agent heartbeat interval (default 10000)
  --warehouse-url URL     PostgreSQL for central sinks (env OUTPOST_WAREHOUSE_URL); without it,
                          central tables are Parquet files under the data directory
  --store-url URL         PostgreSQL for the store, shared by several replicas (env OUTPOST_STORE_URL);
                          without it, the embedded LMDB store in the data directory
  --alert-webhook URL     POST alert notifications here; repeatable (env OUTPOST_ALERT_WEBHOOKS, comma-separated)
  --alert-webhook-secret S  sign them with HMAC-SHA256 (env OUTPOST_ALERT_WEBHOOK_SECRET)
  --alert-chat-webhook URL  chat webhook in the Slack format (Slack, Mattermost, Rocket.Chat); repeatable
  --alert-email-smtp URL  smtp://user:pass@host:587 (STARTTLS when offered) or smtps://… (env OUTPOST_SMTP_URL)
  --alert-email-from A, --alert-email-to A  sender, and recipients (repeatable)
  --console-url URL       the console's address as people reach it, for links in notifications
  --alert-interval DUR    how often alert rules are evaluated (default 5s)
  --grpc-tls-cert FILE    serve agents over TLS with this certificate (PEM, with its chain)
  --grpc-tls-key FILE     and its private key
  --grpc-tls-client-ca FILE  mutual TLS: agents must show a certificate this CA signed
  --grpc-tls-client-ca-key FILE  the client CA's private key: the control plane issues each agent
                          its certificate at enrolment (valid 365 days, naming the agent id, renewed
                          over Sync when a third is left); Sync needs the one issued to that agent
  --check-config          validate the flags and environment, print the settings, exit
  --log-level, --log-format

Exit codes: 0 stopped cleanly, 1 failed, 2 bad flags.`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        'data-dir': { type: 'string' },
        'grpc-listen': { type: 'string' },
        'http-listen': { type: 'string' },
        nats: { type: 'string', multiple: true },
        'nats-public': { type: 'string', multiple: true },
        'nats-auth': { type: 'string' },
        'nats-tls-ca': { type: 'string' },
        'nats-tls-cert': { type: 'string' },
        'nats-tls-key': { type: 'string' },
        'console-dir': { type: 'string' },
        heartbeat: { type: 'string' },
        'warehouse-url': { type: 'string' },
        'alert-webhook': { type: 'string', multiple: true },
        'store-url': { type: 'string' },
        'check-config': { type: 'boolean' },
        'grpc-tls-cert': { type: 'string' },
        'grpc-tls-key': { type: 'string' },
        'grpc-tls-client-ca': { type: 'string' },
        'grpc-tls-client-ca-key': { type: 'string' },
        'alert-webhook-secret': { type: 'string' },
        'alert-chat-webhook': { type: 'string', multiple: true },
        'alert-email-smtp': { type: 'string' },
        'alert-email-from': { type: 'string' },
        'alert-email-to': { type: 'string', multiple: true },
        'console-url': { type: 'string' },
        'alert-interval': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
      },
      false,
    )
    const log = loggerFromFlags(values)
    const http = hostPort(
      values['http-listen'] ?? process.env.OUTPOST_HTTP_LISTEN ?? '127.0.0.1:7080',
      'http-listen',
    )
    const heartbeat = values.heartbeat === undefined ? undefined : Number(values.heartbeat)
    if (heartbeat !== undefined && (!Number.isInteger(heartbeat) || heartbeat < 100))
      throw new UsageError('--heartbeat must be at least 100 (ms)')
    const consoleDir = values['console-dir'] ?? defaultConsoleDir()
    const warehouseUrl = values['warehouse-url'] ?? process.env.OUTPOST_WAREHOUSE_URL
    const webhooks =
      values['alert-webhook'] ?? (process.env.OUTPOST_ALERT_WEBHOOKS?.split(',').filter(Boolean) || undefined)
    const webhookSecret = values['alert-webhook-secret'] ?? process.env.OUTPOST_ALERT_WEBHOOK_SECRET
    const alertInterval =
      values['alert-interval'] === undefined ? undefined : parseDuration(values['alert-interval'])
    if (values['alert-interval'] !== undefined && (alertInterval === undefined || alertInterval < 100))
      throw new UsageError('--alert-interval must be a duration of at least 100ms, such as 5s')
    const readPem = (
      flag: 'grpc-tls-cert' | 'grpc-tls-key' | 'grpc-tls-client-ca' | 'grpc-tls-client-ca-key',
    ) => {
      const file = values[flag]
      if (file === undefined) return undefined
      try {
        return readFileSync(file)
      } catch (error) {
        throw new UsageError(
          `--${flag}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        )
      }
    }
    const smtpUrl = values['alert-email-smtp'] ?? process.env.OUTPOST_SMTP_URL
    if (smtpUrl && (!values['alert-email-from'] || !values['alert-email-to']?.length))
      throw new UsageError('--alert-email-smtp needs --alert-email-from and at least one --alert-email-to')
    const tlsCert = readPem('grpc-tls-cert')
    const tlsKey = readPem('grpc-tls-key')
    const tlsClientCa = readPem('grpc-tls-client-ca')
    if ((tlsCert === undefined) !== (tlsKey === undefined))
      throw new UsageError('give both --grpc-tls-cert and --grpc-tls-key')
    if (tlsClientCa && !tlsCert)
      throw new UsageError('--grpc-tls-client-ca needs --grpc-tls-cert and --grpc-tls-key')
    const tlsClientCaKey = readPem('grpc-tls-client-ca-key')
    if (tlsClientCaKey && !tlsClientCa)
      throw new UsageError(
        '--grpc-tls-client-ca-key needs --grpc-tls-client-ca (the certificate of that key)',
      )
    if (tlsClientCa && tlsClientCaKey) {
      const { AgentCertificateAuthority, ClientCaError } = await import('../grpc/client-certificates.js')
      try {
        await AgentCertificateAuthority.load(tlsClientCa, tlsClientCaKey)
      } catch (error) {
        if (error instanceof ClientCaError) throw new UsageError(`--grpc-tls-client-ca-key: ${error.message}`)
        throw error
      }
    }
    const natsAuthDir = values['nats-auth'] ?? process.env.OUTPOST_NATS_AUTH
    if (natsAuthDir) {
      const { NatsAuth, NatsAuthError } = await import('../nats/auth.js')
      try {
        NatsAuth.load(natsAuthDir)
      } catch (error) {
        if (error instanceof NatsAuthError) throw new UsageError(`--nats-auth: ${error.message}`)
        throw error
      }
    }
    const natsTls = natsTlsFiles({
      ca: values['nats-tls-ca'],
      cert: values['nats-tls-cert'],
      key: values['nats-tls-key'],
    })
    if (values['check-config']) {
      const storeUrl = values['store-url'] ?? process.env.OUTPOST_STORE_URL
      const redactUrl = (u: string | undefined) => u?.replace(/\/\/[^@/]*@/, '//***@') ?? null
      process.stdout.write(
        `${JSON.stringify(
          {
            data_dir: resolve(values['data-dir'] ?? process.env.OUTPOST_DATA_DIR ?? '.outpost/control-plane'),
            grpc_listen: values['grpc-listen'] ?? process.env.OUTPOST_GRPC_LISTEN ?? '0.0.0.0:7400',
            http_listen: `${http.host}:${http.port}`,
            nats:
              values.nats ??
              (process.env.NATS_URL ? process.env.NATS_URL.split(',') : ['nats://127.0.0.1:4222']),
            store: storeUrl ? redactUrl(storeUrl) : 'embedded LMDB',
            warehouse: warehouseUrl ? redactUrl(warehouseUrl) : 'Parquet files in the data directory',
            console: consoleDir ?? null,
            alert_webhooks: webhooks?.length ?? 0,
            nats_auth: natsAuthDir ? resolve(natsAuthDir) : null,
            nats_tls: natsTls ?? null,
          },
          null,
          2,
        )}\n`,
      )
      return EXIT.ok
    }
    const { ControlPlane } = await import('../server.js')
    const cp = await ControlPlane.start({
      dataDir: resolve(values['data-dir'] ?? process.env.OUTPOST_DATA_DIR ?? '.outpost/control-plane'),
      grpcListen: values['grpc-listen'] ?? process.env.OUTPOST_GRPC_LISTEN ?? '0.0.0.0:7400',
      httpHost: http.host,
      httpPort: http.port,
      natsServers:
        values.nats ?? (process.env.NATS_URL ? process.env.NATS_URL.split(',') : ['nats://127.0.0.1:4222']),
      ...(values['nats-public'] ? { natsPublic: values['nats-public'] } : {}),
      ...(natsAuthDir ? { natsAuth: natsAuthDir } : {}),
      ...(natsTls ? { natsTls } : {}),
      ...(consoleDir ? { consoleDir } : {}),
      ...(heartbeat ? { heartbeatIntervalMs: heartbeat } : {}),
      ...(warehouseUrl ? { warehouseUrl } : {}),
      ...((values['store-url'] ?? process.env.OUTPOST_STORE_URL)
        ? { storeUrl: (values['store-url'] ?? process.env.OUTPOST_STORE_URL) as string }
        : {}),
      ...(webhooks?.length ? { alertWebhooks: webhooks } : {}),
      ...(webhookSecret ? { alertWebhookSecret: webhookSecret } : {}),
      ...(alertInterval ? { alertIntervalMs: alertInterval } : {}),
      ...(values['alert-chat-webhook'] ? { alertChatWebhooks: values['alert-chat-webhook'] } : {}),
      ...(smtpUrl
        ? {
            alertEmail: {
              smtpUrl,
              from: values['alert-email-from'] as string,
              to: values['alert-email-to'] ?? [],
            },
          }
        : {}),
      ...(values['console-url'] ? { consoleUrl: values['console-url'] } : {}),
      ...(tlsCert && tlsKey
        ? {
            grpcTls: {
              cert: tlsCert,
              key: tlsKey,
              ...(tlsClientCa ? { clientCa: tlsClientCa } : {}),
              ...(tlsClientCaKey ? { clientCaKey: tlsClientCaKey } : {}),
            },
          }
        : {}),
      log,
    })
    const signal = await untilSignal()
    log.info('stopping', { signal })
    await cp.stop()
    return EXIT.ok
  },
}

export const tokenCreateCommand: Command = {
  name: 'token create',
  summary: 'Create an enrolment token for new agents.',
  usage: `Usage: outpost token create [--ttl 24h] [--max-uses 1] [--label KEY=VALUE]... [--description TEXT] [--server URL]

Prints the token (shown once). --server defaults to $OUTPOST_SERVER or http://127.0.0.1:7080.`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        ttl: { type: 'string' },
        'max-uses': { type: 'string' },
        label: { type: 'string', multiple: true },
        description: { type: 'string' },
        json: { type: 'boolean' },
        ...SERVER_FLAG,
      },
      false,
    )
    const maxUses = values['max-uses'] === undefined ? undefined : Number(values['max-uses'])
    if (maxUses !== undefined && (!Number.isInteger(maxUses) || maxUses < 1))
      throw new UsageError('--max-uses must be a positive integer')
    const created = await clientFrom(values.server)
      .request<{ id: string; token: string; expiresAt: number }>('POST', 'api/v1/enrollment-tokens', {
        json: {
          ...(values.ttl ? { ttl: values.ttl } : {}),
          ...(maxUses ? { maxUses } : {}),
          labels: parseLabels(values.label),
          ...(values.description ? { description: values.description } : {}),
        },
      })
      .catch(apiFailure)
    if (values.json) process.stdout.write(`${JSON.stringify(created)}\n`)
    else process.stdout.write(`${created.token}\n`)
    return EXIT.ok
  },
}

function apiFailure(error: unknown): never {
  if (error instanceof ApiClientError) {
    const details = error.errors.map((e) => `\n  ${formatSpecError(e)}`).join('')
    throw Object.assign(new Error(`${error.message}${details}`), {
      code: error.status === 400 ? 'bad_request' : 'api',
    })
  }
  throw error
}

export const applyCommand: Command = {
  name: 'apply',
  summary: 'Create or update pipelines from YAML/JSON files (a new version when the spec changed).',
  usage: `Usage: outpost apply -f FILE [-f FILE]... [--canary 1,25%,100%] [--soak 5m] [--server URL]

Each file may hold several pipelines separated by ---. Invalid specs are refused with their field
paths and lines (exit 2); nothing is applied from a file with an invalid document. A new version
reaches every agent at once, or with --canary in waves (cumulative counts or percentages of the
agents it targets), each soaking for --soak (default 1m) and pausing by itself on trouble.`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        file: { type: 'string', short: 'f', multiple: true },
        canary: { type: 'string' },
        soak: { type: 'string' },
        ...SERVER_FLAG,
      },
      false,
    )
    const rollout = new URLSearchParams()
    if (values.canary) rollout.set('waves', values.canary)
    if (values.soak) rollout.set('soak', values.soak)
    if (!values.file?.length) throw new UsageError('give at least one -f FILE')
    const client = clientFrom(values.server)
    const docs: { file: string; text: string; name: string }[] = []
    let invalid = false
    for (const file of values.file) {
      const text = await readFile(file, 'utf8').catch((error: Error) => {
        throw new UsageError(`cannot read ${file}: ${error.message}`)
      })
      for (const result of parsePipelines(text)) {
        if (!result.ok) {
          invalid = true
          for (const e of result.errors) process.stderr.write(`${file}: ${formatSpecError(e)}\n`)
        } else {
          docs.push({ file, text: result.value.canonical, name: result.value.pipeline.metadata.name })
        }
      }
    }
    if (invalid) return EXIT.usage
    for (const doc of docs) {
      try {
        const r = await client.request<{
          version: number
          unchanged?: boolean
          created?: boolean
          rollout?: { id: string; strategy: string; waves: number }
        }>('PUT', `api/v1/pipelines/${doc.name}${rollout.size ? `?${rollout}` : ''}`, {
          text: doc.text,
          contentType: 'application/json',
        })
        const how =
          r.rollout?.strategy === 'canary'
            ? ` (canary rollout ${r.rollout.id}, ${r.rollout.waves} waves)`
            : ''
        process.stdout.write(
          `pipeline ${doc.name}: version ${r.version} ${r.unchanged ? 'unchanged' : r.created ? 'created' : 'updated'}${how}\n`,
        )
      } catch (error) {
        if (error instanceof ApiClientError && error.status === 400) {
          for (const e of error.errors) process.stderr.write(`${doc.file}: ${formatSpecError(e)}\n`)
          if (error.errors.length === 0) process.stderr.write(`${doc.file}: ${error.message}\n`)
          return EXIT.usage
        }
        apiFailure(error)
      }
    }
    return EXIT.ok
  },
}

export const probeCommand: Command = {
  name: 'probe',
  summary: "Run a probe at a site: test a source's or sink's connection, preview rows, or infer the schema.",
  usage: `Usage: outpost probe --agent ID -f PIPELINE.yaml [--kind test_connection|preview|schema] [--target source|sinks[N]] [--limit N] [--server URL]

The agent resolves the spec's secrets and runs the probe where the data is; the result is printed
as JSON (secrets never appear in it). Exit 1 when the probe fails.`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        agent: { type: 'string' },
        file: { type: 'string', short: 'f' },
        kind: { type: 'string' },
        target: { type: 'string' },
        limit: { type: 'string' },
        ...SERVER_FLAG,
      },
      false,
    )
    if (!values.agent || !values.file) throw new UsageError('give --agent and -f')
    const spec = await readFile(values.file, 'utf8').catch((error: Error) => {
      throw new UsageError(`cannot read ${values.file}: ${error.message}`)
    })
    const r = await clientFrom(values.server)
      .request<{ ok: boolean; error?: string; result?: unknown }>(
        'POST',
        `api/v1/agents/${values.agent}/probe`,
        {
          json: {
            kind: values.kind ?? 'preview',
            spec,
            target: values.target ?? 'source',
            ...(values.limit ? { limit: Number(values.limit) } : {}),
          },
        },
      )
      .catch(apiFailure)
    if (!r.ok) {
      process.stderr.write(`probe failed: ${r.error}\n`)
      return EXIT.failed
    }
    process.stdout.write(`${JSON.stringify(r.result, null, 2)}\n`)
    return EXIT.ok
  },
}

type Row = Record<string, unknown>

function table(rows: Row[], columns: [string, (r: Row) => unknown][]): string {
  const cells = rows.map((r) => columns.map(([, f]) => String(f(r) ?? '')))
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(columns.map(([h]) => h)), ...cells.map(line)].join('\n')
}

const ago = (t: unknown) =>
  typeof t === 'number' ? `${Math.max(0, Math.round((Date.now() - t) / 1000))}s ago` : '-'

export const getCommand: Command = {
  name: 'get',
  summary: 'List agents, pipelines or runs.',
  usage: `Usage: outpost get agents|pipelines|runs [-o json] [--pipeline NAME] [--limit N] [--server URL]

For agents: -l/--selector "region=eu,role in (pos,kiosk),gpu,!legacy" and --state online|degraded|offline|revoked.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      output: { type: 'string', short: 'o' },
      pipeline: { type: 'string' },
      limit: { type: 'string' },
      selector: { type: 'string', short: 'l' },
      state: { type: 'string' },
      ...SERVER_FLAG,
    })
    const what = positionals[0]
    const paths: Record<string, string> = {
      agents: 'api/v1/agents',
      pipelines: 'api/v1/pipelines',
      runs: 'api/v1/runs',
    }
    if (!what || !paths[what]) throw new UsageError('get what? agents, pipelines or runs')
    const query = new URLSearchParams()
    if (values.pipeline) query.set('pipeline', values.pipeline)
    if (values.limit) query.set('limit', values.limit)
    if (values.selector) query.set('selector', values.selector)
    if (values.state) query.set('state', values.state)
    const data = await clientFrom(values.server)
      .request<{ items: Row[] }>('GET', `${paths[what]}${query.size ? `?${query}` : ''}`)
      .catch(apiFailure)
    if (values.output === 'json') {
      process.stdout.write(`${JSON.stringify(data.items, null, 2)}\n`)
      return EXIT.ok
    }
    const columns: Record<string, [string, (r: Row) => unknown][]> = {
      agents: [
        ['ID', (r) => r.id],
        ['NAME', (r) => r.name],
        ['STATE', (r) => r.state],
        ['VERSION', (r) => r.agentVersion],
        ['LAST SEEN', (r) => ago(r.lastSeenAt)],
        [
          'PIPELINES',
          (r) =>
            (r.applied as { name: string; version: number }[]).map((p) => `${p.name}@${p.version}`).join(','),
        ],
      ],
      pipelines: [
        ['NAME', (r) => r.name],
        ['VERSION', (r) => r.version],
        ['SCHEDULE', (r) => (typeof r.schedule === 'string' ? r.schedule : JSON.stringify(r.schedule))],
        ['SOURCE', (r) => r.source],
        ['SINKS', (r) => (r.sinks as string[]).join(',')],
      ],
      runs: [
        ['RUN', (r) => r.id],
        ['PIPELINE', (r) => `${r.pipeline}@${r.version}`],
        ['AGENT', (r) => r.agentId],
        ['STATUS', (r) => r.status],
        ['READ', (r) => (r.counts as Row).rowsRead],
        ['WRITTEN', (r) => (r.counts as Row).rowsWritten],
        ['QUARANTINED', (r) => (r.counts as Row).rowsQuarantined],
        ['STARTED', (r) => ago(r.startedAt)],
      ],
    }
    process.stdout.write(`${table(data.items, columns[what]!)}\n`)
    return EXIT.ok
  },
}

interface QuarantineAnswer {
  agentId: string
  ok: boolean
  error?: string
  total?: number
  replayable?: number
  byRule?: Record<string, number>
  entries?: Row[]
  replayed?: number
  written?: number
  filtered?: number
  quarantinedAgain?: number
  left?: number
  kept?: number
  run?: { runId: string; version: number; status: string } | null
}

export const quarantineCommand: Command = {
  name: 'quarantine',
  summary: 'List the rows a pipeline quarantined at its sites, or replay them after a fix.',
  usage: `Usage: outpost quarantine list PIPELINE [--run ID] [--agent ID] [--limit N] [-o json] [--server URL]
       outpost quarantine replay PIPELINE [--run ID] [--agent ID] [--server URL]

Rows that fail a cast or an error rule stay at the site, with the rule, the value and the run.
list shows the counts per rule and the oldest entries. replay sends them through the pipeline's
current version (push the fix with \`outpost apply\` first): rows that pass land once and leave the
quarantine; rows that fail again stay, with the new reason. Exit 1 when an agent's replay fails.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      run: { type: 'string' },
      agent: { type: 'string' },
      limit: { type: 'string' },
      output: { type: 'string', short: 'o' },
      ...SERVER_FLAG,
    })
    const [action, pipeline] = positionals
    if ((action !== 'list' && action !== 'replay') || !pipeline)
      throw new UsageError('give list or replay, and a pipeline name')
    const client = clientFrom(values.server)
    const path = `api/v1/pipelines/${encodeURIComponent(pipeline)}/quarantine`
    if (action === 'list') {
      const query = new URLSearchParams()
      if (values.run) query.set('run', values.run)
      if (values.agent) query.set('agent', values.agent)
      if (values.limit) query.set('limit', values.limit)
      const data = await client
        .request<{ total: number; items: QuarantineAnswer[] }>(
          'GET',
          `${path}${query.size ? `?${query}` : ''}`,
        )
        .catch(apiFailure)
      if (values.output === 'json') {
        process.stdout.write(`${JSON.stringify(data, null, 2)}\n`)
        return EXIT.ok
      }
      const out: string[] = []
      for (const a of data.items) {
        if (!a.ok) {
          out.push(`agent ${a.agentId}: ${a.error}`)
          continue
        }
        const rules = Object.entries(a.byRule ?? {})
          .map(([rule, n]) => `${rule} ${n}`)
          .join(', ')
        out.push(
          `agent ${a.agentId}: ${a.total} rows quarantined (${a.replayable} replayable)${rules ? `: ${rules}` : ''}`,
        )
        if (a.entries?.length)
          out.push(
            table(a.entries, [
              ['RUN', (r) => r.runId],
              ['SOURCE', (r) => `${r.source}:${r.record}`],
              ['RULE', (r) => r.rule],
              ['REASON', (r) => r.reason],
            ]),
          )
      }
      process.stdout.write(`${out.join('\n')}\n`)
      return EXIT.ok
    }
    const data = await client
      .request<{ items: QuarantineAnswer[] }>('POST', `${path}/replay`, {
        json: {
          ...(values.run ? { run: values.run } : {}),
          ...(values.agent ? { agent: values.agent } : {}),
        },
      })
      .catch(apiFailure)
    for (const a of data.items) {
      if (!a.ok) process.stdout.write(`agent ${a.agentId}: replay failed: ${a.error}\n`)
      else if (!a.run)
        process.stdout.write(`agent ${a.agentId}: nothing to replay (${a.kept ?? 0} rows kept)\n`)
      else
        process.stdout.write(
          `agent ${a.agentId}: replayed ${a.replayed} rows in run ${a.run.runId} (version ${a.run.version}): ` +
            `${a.written} written, ${a.filtered} filtered, ${a.quarantinedAgain} quarantined again; ${a.left} left\n`,
        )
    }
    return data.items.every((a) => a.ok) ? EXIT.ok : EXIT.failed
  },
}

const pct = (n: unknown) => (typeof n === 'number' ? `${(n * 100).toFixed(1)}%` : '-')
const num = (n: unknown) => (typeof n === 'number' ? String(Number(n.toPrecision(6))) : '')

export const describeCommand: Command = {
  name: 'describe',
  summary: 'Show one run: counts, errors and its data quality report.',
  usage: `Usage: outpost describe run RUN_ID [-o json] [--server URL]`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      output: { type: 'string', short: 'o' },
      ...SERVER_FLAG,
    })
    const [what, id] = positionals
    if (what !== 'run' || !id) throw new UsageError('describe what? run RUN_ID')
    const run = await clientFrom(values.server)
      .request<Row>('GET', `api/v1/runs/${encodeURIComponent(id)}`)
      .catch(apiFailure)
    if (values.output === 'json') {
      process.stdout.write(`${JSON.stringify(run, null, 2)}\n`)
      return EXIT.ok
    }
    const counts = run.counts as Row
    const out = [
      `run ${run.id}: pipeline ${run.pipeline}@${run.version} on agent ${run.agentId}, ${run.status} (trigger ${run.trigger})`,
      `rows: ${counts.rowsRead} read, ${counts.rowsWritten} written, ${counts.rowsQuarantined} quarantined, ${counts.rowsFiltered} filtered, ${counts.rowsDropped} dropped`,
    ]
    const errors = run.errors as Row[]
    if (errors.length > 0) {
      out.push(`errors (${run.errorsTotal}):`)
      for (const e of errors)
        out.push(`  ${String(e.message).startsWith(String(e.code)) ? '' : `${e.code}: `}${e.message}`)
    }
    const quality = run.quality as
      | { status: string; rows: number; columns: Row[]; rules: Row[]; breaches: Row[] }
      | undefined
    if (quality) {
      out.push(`quality: ${quality.status} (${quality.rows} rows checked)`)
      out.push(
        table(quality.columns, [
          ['COLUMN', (c) => c.name],
          ['TYPE', (c) => c.type],
          ['COMPLETE', (c) => pct(c.completeness)],
          ['UNIQUE', (c) => `${pct(c.uniqueness)}${c.distinctExact ? '' : '~'}`],
          ['VALID', (c) => pct(c.validity)],
          ['MIN', (c) => num(c.min)],
          ['MAX', (c) => num(c.max)],
          ['MEAN', (c) => num(c.mean)],
          [
            'TOP',
            (c) =>
              (c.top as { value: string; count: number }[])
                .slice(0, 3)
                .map((t) => `${t.value} (${t.count})`)
                .join(', '),
          ],
        ]),
      )
      if (quality.rules.length > 0)
        out.push(
          table(quality.rules, [
            ['RULE', (r) => r.name],
            ['SEVERITY', (r) => r.severity],
            ['FAILED', (r) => r.failed],
          ]),
        )
    }
    process.stdout.write(`${out.join('\n')}\n`)
    return EXIT.ok
  },
}

export const apiTokenCommand: Command = {
  name: 'api-token',
  summary: 'Create, list or revoke API tokens (roles viewer, operator, admin).',
  usage: `Usage: outpost api-token create --name NAME --role viewer|operator|admin [--ttl 90d] [--server URL]
       outpost api-token list [-o json] [--server URL]
       outpost api-token revoke ID [--server URL]

create prints the token once; only its hash is kept. Needs an admin token.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      name: { type: 'string' },
      role: { type: 'string' },
      ttl: { type: 'string' },
      output: { type: 'string', short: 'o' },
      ...SERVER_FLAG,
    })
    const client = clientFrom(values.server)
    const [action, id] = positionals
    if (action === 'create') {
      if (!values.name || !values.role) throw new UsageError('give --name and --role')
      const created = await client
        .request<{ token: string }>('POST', 'api/v1/api-tokens', {
          json: { name: values.name, role: values.role, ...(values.ttl ? { ttl: values.ttl } : {}) },
        })
        .catch(apiFailure)
      process.stdout.write(`${created.token}\n`)
      return EXIT.ok
    }
    if (action === 'list') {
      const data = await client.request<{ items: Row[] }>('GET', 'api/v1/api-tokens').catch(apiFailure)
      if (values.output === 'json') process.stdout.write(`${JSON.stringify(data.items, null, 2)}\n`)
      else
        process.stdout.write(
          `${table(data.items, [
            ['ID', (r) => r.id],
            ['NAME', (r) => r.name],
            ['ROLE', (r) => r.role],
            ['STATE', (r) => r.state],
            ['CREATED', (r) => ago(r.createdAt)],
            ['BY', (r) => r.createdBy],
          ])}\n`,
        )
      return EXIT.ok
    }
    if (action === 'revoke' && id) {
      await client.request('DELETE', `api/v1/api-tokens/${encodeURIComponent(id)}`).catch(apiFailure)
      process.stdout.write(`API token ${id} revoked\n`)
      return EXIT.ok
    }
    throw new UsageError('api-token create|list|revoke ID')
  },
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'Show the audit log: who enrolled, revoked, changed, rolled out or acknowledged what, and when.',
  usage: `Usage: outpost audit [--action pipeline|agent.revoke|…] [--actor token:NAME] [--target NAME] [--limit N] [-o json] [--server URL]`,
  async run(argv) {
    const { values } = parseFlags(argv, {
      action: { type: 'string' },
      actor: { type: 'string' },
      target: { type: 'string' },
      limit: { type: 'string' },
      output: { type: 'string', short: 'o' },
      ...SERVER_FLAG,
    })
    const query = new URLSearchParams()
    for (const key of ['action', 'actor', 'target', 'limit'] as const)
      if (values[key]) query.set(key, values[key])
    const data = await clientFrom(values.server)
      .request<{ items: Row[] }>('GET', `api/v1/audit${query.size ? `?${query}` : ''}`)
      .catch(apiFailure)
    if (values.output === 'json') process.stdout.write(`${JSON.stringify(data.items, null, 2)}\n`)
    else
      process.stdout.write(
        `${table(data.items, [
          ['WHEN', (r) => new Date(r.at as number).toISOString()],
          ['ACTOR', (r) => r.actor],
          ['ACTION', (r) => r.action],
          ['TARGET', (r) => r.target],
          ['DETAILS', (r) => (r.details ? JSON.stringify(r.details) : '')],
        ])}\n`,
      )
    return EXIT.ok
  },
}

export const agentAdminCommand: Command = {
  name: 'agents',
  summary: 'Change an agent centrally: set its labels, or revoke it.',
  usage: `Usage: outpost agents label ID KEY=VALUE... [--remove KEY]... [--server URL]
       outpost agents revoke ID [--server URL]

label merges the given labels into the agent's (what it runs follows at once); revoke closes the
agent's stream and refuses its credential from then on. Both need an admin token.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      remove: { type: 'string', multiple: true },
      ...SERVER_FLAG,
    })
    const [action, id, ...rest] = positionals
    if (!id || (action !== 'label' && action !== 'revoke')) throw new UsageError('agents label|revoke ID')
    const client = clientFrom(values.server)
    const path = `api/v1/agents/${encodeURIComponent(id)}`
    if (action === 'revoke') {
      await client.request('POST', `${path}/revoke`).catch(apiFailure)
      process.stdout.write(`agent ${id} revoked\n`)
      return EXIT.ok
    }
    const current = await client.request<{ labels: Record<string, string> }>('GET', path).catch(apiFailure)
    const labels = { ...current.labels, ...parseLabels(rest) }
    for (const key of values.remove ?? []) delete labels[key]
    const updated = await client
      .request<{ labels: Record<string, string> }>('PATCH', path, { json: { labels } })
      .catch(apiFailure)
    process.stdout.write(
      `agent ${id}: ${Object.entries(updated.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}\n`,
    )
    return EXIT.ok
  },
}

interface RolloutView {
  id: string
  pipeline: string
  strategy: string
  state: string
  fromVersion: number
  toVersion: number
  currentWave: number
  waves: { size: number | string; agents: string[] }[]
  pausedReason?: string
  agents?: {
    agentId: string
    name: string
    wave: number | null
    desiredVersion: number
    status: string
    applied?: { version: number }
  }[]
}

export const rolloutCommand: Command = {
  name: 'rollout',
  summary:
    'Roll a pipeline version out (at once or in canary waves), follow it, pause, resume, abort or roll back.',
  usage: `Usage: outpost rollout status PIPELINE [-o json] [--server URL]
       outpost rollout start PIPELINE [--version N] [--canary 1,25%,100%] [--soak 5m]
       outpost rollout pause|resume|abort PIPELINE
       outpost rollout undo PIPELINE [--version N]

start rolls a stored version out (the latest by default); undo rolls back to an earlier version
(the one before the current, by default) at once, or in waves with --canary. abort sends every
agent back to the version it ran before the rollout. Exit 1 when the rollout is paused or aborted
(status) or refused.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      version: { type: 'string' },
      canary: { type: 'string' },
      soak: { type: 'string' },
      output: { type: 'string', short: 'o' },
      ...SERVER_FLAG,
    })
    const [action, pipeline] = positionals
    if (!action || !pipeline) throw new UsageError('rollout status|start|pause|resume|abort|undo PIPELINE')
    const client = clientFrom(values.server)
    const base = `api/v1/pipelines/${encodeURIComponent(pipeline)}`
    const latest = async () => {
      const list = await client.request<{ items: RolloutView[] }>('GET', `${base}/rollouts`).catch(apiFailure)
      const r = list.items[0]
      if (!r) throw Object.assign(new Error(`pipeline ${pipeline} has no rollouts yet`), { code: 'api' })
      return r
    }
    const start = async (version: number | undefined) => {
      const r = await client
        .request<RolloutView>('POST', `${base}/rollouts`, {
          json: {
            ...(version !== undefined ? { version } : {}),
            ...(values.canary ? { strategy: 'canary', waves: values.canary } : { strategy: 'all' }),
            ...(values.soak ? { soak: values.soak } : {}),
          },
        })
        .catch(apiFailure)
      process.stdout.write(
        `rollout ${r.id}: ${pipeline} version ${r.fromVersion} → ${r.toVersion}, ${r.strategy}, ${r.state}\n`,
      )
      return EXIT.ok
    }
    switch (action) {
      case 'start':
        return start(values.version ? Number(values.version) : undefined)
      case 'undo': {
        const r = await latest()
        const to = values.version
          ? Number(values.version)
          : r.state === 'completed'
            ? r.fromVersion
            : undefined
        if (!to) throw new UsageError(`give --version: the last rollout of ${pipeline} is ${r.state}`)
        return start(to)
      }
      case 'pause':
      case 'resume':
      case 'abort': {
        const r = await latest()
        const done = await client
          .request<RolloutView>('POST', `api/v1/rollouts/${r.id}/${action}`)
          .catch(apiFailure)
        process.stdout.write(`rollout ${done.id}: ${done.state}\n`)
        return EXIT.ok
      }
      case 'status': {
        const r = await client
          .request<RolloutView>('GET', `api/v1/rollouts/${(await latest()).id}`)
          .catch(apiFailure)
        if (values.output === 'json') process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
        else {
          const lines = [
            `rollout ${r.id}: ${r.pipeline} version ${r.fromVersion} → ${r.toVersion} (${r.strategy}), ${r.state}` +
              (r.strategy === 'canary'
                ? `, wave ${r.currentWave + 1} of ${r.waves.length} (${r.waves.map((w) => w.size).join(', ')})`
                : ''),
            ...(r.pausedReason ? [`paused: ${r.pausedReason}`] : []),
            table(r.agents ?? [], [
              ['AGENT', (a) => a.agentId],
              ['NAME', (a) => a.name],
              ['WAVE', (a) => (a.wave === null ? '-' : (a.wave as number) + 1)],
              ['WANTS', (a) => a.desiredVersion],
              ['APPLIED', (a) => (a.applied as { version: number } | undefined)?.version ?? '-'],
              ['STATUS', (a) => a.status],
            ]),
          ]
          process.stdout.write(`${lines.join('\n')}\n`)
        }
        return r.state === 'paused' || r.state === 'aborted' ? EXIT.failed : EXIT.ok
      }
      default:
        throw new UsageError('rollout status|start|pause|resume|abort|undo PIPELINE')
    }
  },
}

export const alertsCommand: Command = {
  name: 'alerts',
  summary: "List alerts, acknowledge or resolve them, and set the rules' thresholds.",
  usage: `Usage: outpost alerts [list] [--state firing|acknowledged|resolved] [-o json] [--server URL]
       outpost alerts ack|resolve ID [--note TEXT]
       outpost alerts settings [--offline-after 2m] [--run-failures 3] [--outbox-age 15m] [--disk-ratio 0.8]`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      state: { type: 'string' },
      note: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'offline-after': { type: 'string' },
      'run-failures': { type: 'string' },
      'outbox-age': { type: 'string' },
      'disk-ratio': { type: 'string' },
      ...SERVER_FLAG,
    })
    const client = clientFrom(values.server)
    const [action = 'list', id] = positionals
    if (action === 'ack' || action === 'resolve') {
      if (!id) throw new UsageError(`alerts ${action} ID`)
      const verb = action === 'ack' ? 'acknowledge' : 'resolve'
      const a = await client
        .request<Row>('POST', `api/v1/alerts/${encodeURIComponent(id)}/${verb}`, {
          json: values.note ? { note: values.note } : {},
        })
        .catch(apiFailure)
      process.stdout.write(`alert ${a.id}: ${a.state}\n`)
      return EXIT.ok
    }
    if (action === 'settings') {
      const change = {
        ...(values['offline-after'] ? { agentOfflineAfter: values['offline-after'] } : {}),
        ...(values['run-failures'] ? { runFailuresInARow: Number(values['run-failures']) } : {}),
        ...(values['outbox-age'] ? { outboxAge: values['outbox-age'] } : {}),
        ...(values['disk-ratio'] ? { diskBudgetRatio: Number(values['disk-ratio']) } : {}),
      }
      const settings = await (Object.keys(change).length > 0
        ? client.request<Row>('PUT', 'api/v1/alerts/settings', { json: change })
        : client.request<Row>('GET', 'api/v1/alerts/settings')
      ).catch(apiFailure)
      process.stdout.write(`${JSON.stringify(settings, null, 2)}\n`)
      return EXIT.ok
    }
    if (action !== 'list') throw new UsageError('alerts list|ack|resolve|settings')
    const data = await client
      .request<{ items: Row[] }>('GET', `api/v1/alerts${values.state ? `?state=${values.state}` : ''}`)
      .catch(apiFailure)
    if (values.output === 'json') process.stdout.write(`${JSON.stringify(data.items, null, 2)}\n`)
    else
      process.stdout.write(
        `${table(data.items, [
          ['ID', (r) => r.id],
          ['STATE', (r) => r.state],
          ['SEVERITY', (r) => r.severity],
          ['RULE', (r) => r.rule],
          ['FIRED', (r) => ago(r.firedAt)],
          ['SUMMARY', (r) => r.summary],
        ])}\n`,
      )
    return EXIT.ok
  },
}
