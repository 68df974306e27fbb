import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { formatSpecError } from '@outpost/shared'
import { createLogger, type LogFormat, type LogLevel } from '../log.js'
import { SecretResolver } from '../secrets.js'
import { DEFAULT_ROW_LIMITS } from '../workers/row-limits.js'
import { type Command, EXIT, natsTlsFiles, parseFlags, parseLabels, UsageError } from './command.js'
import { type AgentConfig, loadAgentConfig } from './config.js'

/** Environment variables of the settings that have one. */
const ENV = {
  'control-plane': 'OUTPOST_CONTROL_PLANE',
  token: 'OUTPOST_TOKEN',
  'state-dir': 'OUTPOST_STATE_DIR',
  'secrets-file': 'OUTPOST_SECRETS_FILE',
  'disk-budget': 'OUTPOST_DISK_BUDGET',
  'metrics-listen': 'OUTPOST_METRICS_LISTEN',
  'log-level': 'OUTPOST_LOG_LEVEL',
  'log-format': 'OUTPOST_LOG_FORMAT',
  'max-row-bytes': 'OUTPOST_MAX_ROW_BYTES',
  'max-field-bytes': 'OUTPOST_MAX_FIELD_BYTES',
  'max-columns': 'OUTPOST_MAX_COLUMNS',
} as const

const LOG_FLAGS = {
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const

export function loggerFromFlags(
  values: { 'log-level'?: string | undefined; 'log-format'?: string | undefined },
  stream: 'stdout' | 'stderr' = 'stdout',
  redact?: () => readonly string[],
) {
  const level = (values['log-level'] ?? process.env.OUTPOST_LOG_LEVEL ?? 'info') as LogLevel
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    throw new UsageError(`--log-level must be debug, info, warn or error`)
  const format = (values['log-format'] ?? process.env.OUTPOST_LOG_FORMAT) as LogFormat | undefined
  if (format !== undefined && format !== 'json' && format !== 'pretty')
    throw new UsageError('--log-format must be json or pretty')
  const out = stream === 'stdout' ? process.stdout : process.stderr
  return createLogger({
    level,
    ...(format ? { format } : { format: out.isTTY ? 'pretty' : 'json' }),
    write: (line) => out.write(`${line}\n`),
    ...(redact ? { redact } : {}),
  })
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kib: 1024,
  kb: 1000,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  tib: 1024 ** 4,
}

/** `512MiB`, `1GiB`, `1.5GB` or a number of bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim())
  const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()]
  if (!m || unit === undefined) return undefined
  return Math.round(Number(m[1]) * unit)
}

function sizeFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const bytes = parseSize(value)
  if (bytes === undefined || bytes <= 0)
    throw new UsageError(`--${name} must be a size such as 512MiB or 1GiB, got "${value}"`)
  return bytes
}

function intFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive integer, got "${value}"`)
  return n
}

/** Resolves on SIGINT/SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

export const agentCommand: Command = {
  name: 'agent',
  service: true,
  summary: 'Run the agent: enrol with a token once, then run assigned pipelines as a service.',
  usage: `Usage: outpost agent [flags]

  --config FILE              settings file (YAML; env OUTPOST_CONFIG); flags and environment override it
  --check-config             validate the settings, print them, exit (0, or 2 with what is wrong)
  --tls                      talk TLS to the control plane, trusting the system's CAs
  --tls-ca FILE              … trusting this CA (PEM) instead
  --tls-cert FILE, --tls-key FILE  client certificate for mutual TLS; without them, a control
                             plane that issues certificates signs one at enrolment for a key made
                             here (kept in the state directory, renewed before it expires)
  --control-plane HOST:PORT  gRPC address of the control plane   (env OUTPOST_CONTROL_PLANE)
  --token TOKEN              enrolment token, needed only once    (env OUTPOST_TOKEN)
  --state-dir DIR            identity, cursors, outbox, quarantine (env OUTPOST_STATE_DIR; default ./.outpost/agent)
  --name NAME                display name (default: host name)
  --label KEY=VALUE          label sent at enrolment; repeatable
  --nats URL                 NATS server to use instead of the one the control plane gives; repeatable
  --nats-tls-ca FILE         verify the NATS servers' certificates with this CA (PEM)
  --nats-tls-cert FILE, --nats-tls-key FILE  client certificate, when NATS asks for one
  --threads N                worker threads (default: cores - 1)
  --max-runs N               concurrent runs (default 2)
  --secrets-file FILE        NAME=value lines for \${secret:NAME} in specs, mode 0600 (env OUTPOST_SECRETS_FILE;
                             OUTPOST_SECRET_<NAME> variables work too)
  --disk-budget SIZE         bytes the outbox may hold before pipelines block or drop (default 1GiB; env OUTPOST_DISK_BUDGET)
  --metrics-listen HOST:PORT serve /metrics (Prometheus), /healthz and /readyz here; off by default
                             (env OUTPOST_METRICS_LISTEN; e.g. 127.0.0.1:9464)
  --file-root DIR            pipelines may read and write files only inside DIR; repeatable
                             (env OUTPOST_FILE_ROOTS, separated by ${delimiter}); default: anywhere
  --max-row-bytes SIZE       larger records are quarantined (default 16MiB; env OUTPOST_MAX_ROW_BYTES)
  --max-field-bytes SIZE     records with a larger value are quarantined (default 8MiB; env OUTPOST_MAX_FIELD_BYTES)
  --max-columns N            records with more columns are quarantined (default 2000; env OUTPOST_MAX_COLUMNS)
  --log-level LEVEL          debug, info, warn, error (default info)
  --log-format FORMAT        json or pretty (default: pretty on a terminal)

Exit codes: 0 stopped cleanly, 1 failed, 2 bad flags, 3 unusable state directory.`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        'control-plane': { type: 'string' },
        token: { type: 'string' },
        'state-dir': { type: 'string' },
        name: { type: 'string' },
        label: { type: 'string', multiple: true },
        nats: { type: 'string', multiple: true },
        'nats-tls-ca': { type: 'string' },
        'nats-tls-cert': { type: 'string' },
        'nats-tls-key': { type: 'string' },
        threads: { type: 'string' },
        'metrics-listen': { type: 'string' },
        'max-runs': { type: 'string' },
        'chunk-bytes': { type: 'string' },
        'disk-budget': { type: 'string' },
        'secrets-file': { type: 'string' },
        'file-root': { type: 'string', multiple: true },
        'max-row-bytes': { type: 'string' },
        'max-field-bytes': { type: 'string' },
        'max-columns': { type: 'string' },
        config: { type: 'string' },
        'tls-ca': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        tls: { type: 'boolean' },
        'check-config': { type: 'boolean' },
        ...LOG_FLAGS,
      },
      false,
    )
    // The file < the environment < flags.
    const configFile = values.config ?? process.env.OUTPOST_CONFIG
    let file: AgentConfig = {}
    try {
      if (configFile) file = loadAgentConfig(configFile)
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    const setting = (key: keyof typeof ENV, fromFile: string | number | undefined): string | undefined => {
      const flag = (values as Record<string, unknown>)[key]
      if (typeof flag === 'string') return flag
      return process.env[ENV[key]] ?? (fromFile === undefined ? undefined : String(fromFile))
    }
    const secretsFile = setting('secrets-file', file.secrets_file)
    const secrets = new SecretResolver(secretsFile ? { file: secretsFile } : {})
    const log = loggerFromFlags(
      {
        'log-level': setting('log-level', file.log_level),
        'log-format': setting('log-format', file.log_format),
      },
      'stdout',
      () => secrets.values(),
    )
    const controlPlane = setting('control-plane', file.control_plane)
    const token = setting('token', file.token)
    const threads = intFlag(
      values.threads ?? (file.threads === undefined ? undefined : String(file.threads)),
      'threads',
    )
    const maxRuns = intFlag(
      values['max-runs'] ?? (file.max_runs === undefined ? undefined : String(file.max_runs)),
      'max-runs',
    )
    const chunkBytes = intFlag(values['chunk-bytes'], 'chunk-bytes')
    const diskBudget = sizeFlag(setting('disk-budget', file.disk_budget), 'disk-budget')
    const stateDir = setting('state-dir', file.state_dir) ?? '.outpost/agent'
    const metricsListen = setting('metrics-listen', file.metrics_listen)
    const labels = { ...(file.labels ?? {}), ...parseLabels(values.label) }
    const fileRoots =
      values['file-root'] ??
      process.env.OUTPOST_FILE_ROOTS?.split(delimiter).filter((d) => d !== '') ??
      file.file_roots
    const limits = {
      maxRowBytes: sizeFlag(setting('max-row-bytes', file.max_row_bytes), 'max-row-bytes'),
      maxFieldBytes: sizeFlag(setting('max-field-bytes', file.max_field_bytes), 'max-field-bytes'),
      maxColumns: intFlag(setting('max-columns', file.max_columns), 'max-columns'),
    }
    // TLS to the control plane: --tls (system CAs), or a CA file; a client certificate for mutual TLS.
    const pem = (flag: 'tls-ca' | 'tls-cert' | 'tls-key', fromFile: string | undefined) => {
      const path = values[flag] ?? fromFile
      if (path === undefined) return undefined
      try {
        return readFileSync(path)
      } catch (error) {
        throw new UsageError(
          `--${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        )
      }
    }
    const ca = pem('tls-ca', file.tls?.ca)
    const cert = pem('tls-cert', file.tls?.cert)
    const key = pem('tls-key', file.tls?.key)
    if ((cert === undefined) !== (key === undefined))
      throw new UsageError('give both --tls-cert and --tls-key')
    const tls =
      values.tls || file.tls || ca || cert
        ? { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) }
        : undefined
    const nats = values.nats ?? file.nats
    const natsTls = natsTlsFiles({
      ca: values['nats-tls-ca'] ?? file.nats_tls?.ca,
      cert: values['nats-tls-cert'] ?? file.nats_tls?.cert,
      key: values['nats-tls-key'] ?? file.nats_tls?.key,
    })
    const name = values.name ?? file.name
    if (values['check-config']) {
      const effective = {
        ...(configFile ? { config_file: configFile } : {}),
        control_plane: controlPlane ?? null,
        token: token ? '(set)' : null,
        state_dir: stateDir,
        name: name ?? null,
        labels,
        nats: nats ?? null,
        nats_tls: natsTls ?? null,
        threads: threads ?? null,
        max_runs: maxRuns ?? 2,
        disk_budget: diskBudget ?? null,
        secrets_file: secretsFile ?? null,
        metrics_listen: metricsListen ?? null,
        file_roots: fileRoots ?? null,
        max_row_bytes: limits.maxRowBytes ?? DEFAULT_ROW_LIMITS.maxRowBytes,
        max_field_bytes: limits.maxFieldBytes ?? DEFAULT_ROW_LIMITS.maxFieldBytes,
        max_columns: limits.maxColumns ?? DEFAULT_ROW_LIMITS.maxColumns,
      }
      process.stdout.write(`${JSON.stringify(effective, null, 2)}\n`)
      if (!controlPlane) {
        process.stderr.write(
          'control_plane is not set (config file, OUTPOST_CONTROL_PLANE or --control-plane)\n',
        )
        return EXIT.usage
      }
      return EXIT.ok
    }
    // Loaded on demand so that quick commands start fast.
    const { Agent } = await import('../agent.js')
    const agent = Agent.open({
      stateDir,
      ...(controlPlane ? { controlPlane } : {}),
      ...(token ? { token } : {}),
      ...(name ? { name } : {}),
      labels,
      ...(nats ? { natsServers: nats } : {}),
      ...(natsTls ? { natsTls } : {}),
      ...(tls ? { tls } : {}),
      ...(threads ? { threads } : {}),
      ...(maxRuns ? { maxConcurrentRuns: maxRuns } : {}),
      ...(chunkBytes ? { chunkBytes } : {}),
      ...(diskBudget ? { diskBudgetBytes: diskBudget } : {}),
      ...(metricsListen ? { metricsListen } : {}),
      ...(fileRoots ? { fileRoots } : {}),
      limits: Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
      secrets,
      log,
    })
    const signal = untilSignal()
    const started = agent.start()
    const first = await Promise.race([
      signal.then((s) => ({ signal: s })),
      started.then(() => ({ started: true })),
    ])
    if ('started' in first) {
      const s = await signal
      log.info('stopping', { signal: s })
    }
    await agent.stop()
    await started.catch(() => {})
    return EXIT.ok
  },
}

export const runCommand: Command = {
  name: 'run',
  summary: 'Run one pipeline once on this machine without a control plane (--local).',
  usage: `Usage: outpost run PIPELINE.yaml --local [--state-dir DIR]

Prints one JSON object: {"pipeline","status","rowsRead","rowsWritten","rowsQuarantined","durationMs","errors"}.
Without --state-dir every run starts from scratch; with it, cursors persist between runs.
Exit codes: 0 succeeded, 1 the run failed, 2 invalid spec or flags (errors with paths on stderr).`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      local: { type: 'boolean' },
      'secrets-file': { type: 'string' },
      'state-dir': { type: 'string' },
      threads: { type: 'string' },
      ...LOG_FLAGS,
    })
    if (!values.local)
      throw new UsageError(
        'only --local runs are supported here; to run on an agent, use `outpost apply` and the console',
      )
    const file = positionals[0]
    if (!file || positionals.length > 1) throw new UsageError('give exactly one pipeline file')
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as Error).message}`)
    }
    // Logs go to stderr: stdout carries only the JSON result.
    const log = loggerFromFlags(
      { 'log-level': values['log-level'] ?? 'warn', 'log-format': values['log-format'] },
      'stderr',
    )
    const threads = intFlag(values.threads, 'threads')
    const { runLocal } = await import('../runtime/local-run.js')
    const secretsFile = values['secrets-file'] ?? process.env.OUTPOST_SECRETS_FILE
    const result = await runLocal(text, {
      log,
      secrets: new SecretResolver(secretsFile ? { file: secretsFile } : {}),
      ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
      ...(threads ? { threads } : {}),
    })
    if (result.kind === 'invalid') {
      for (const e of result.errors) process.stderr.write(`${file}: ${formatSpecError(e)}\n`)
      return EXIT.usage
    }
    process.stdout.write(`${JSON.stringify(result.report)}\n`)
    return result.report.status === 'succeeded' ? EXIT.ok : EXIT.failed
  },
}

function stateDirFlag(argv: string[]): string {
  const { values } = parseFlags(argv, { 'state-dir': { type: 'string' } }, false)
  const dir = values['state-dir'] ?? process.env.OUTPOST_STATE_DIR
  if (!dir) throw new UsageError("give --state-dir (the agent's state directory)")
  return dir
}

export const stateCheckCommand: Command = {
  name: 'agent state check',
  summary: "Read every entry of an agent's state file (stop the agent first); exit 3 when it is damaged.",
  usage: `Usage: outpost agent state check --state-dir DIR`,
  async run(argv) {
    const dir = stateDirFlag(argv)
    const { checkStateFile } = await import('../state/integrity.js')
    const result = checkStateFile(join(dir, 'state.mdb'))
    if (result.ok) {
      process.stdout.write(`${join(dir, 'state.mdb')}: ok, ${result.entries} entries\n`)
      return EXIT.ok
    }
    process.stderr.write(
      `${join(dir, 'state.mdb')}: damaged (${result.reason})\nRun \`outpost agent state recover --state-dir ${dir}\` to copy what can be read into a fresh file.\n`,
    )
    return EXIT.state
  },
}

export const stateRecoverCommand: Command = {
  name: 'agent state recover',
  summary:
    'Copy what can be read from a damaged agent state file into a fresh one; the damaged file is kept.',
  usage: `Usage: outpost agent state recover --state-dir DIR

Stop the agent first. The damaged state.mdb is renamed state.mdb.damaged-<time> and kept; every
entry that can still be read (identity, pipelines, cursors, outbox, quarantine) is copied into a
new state.mdb. Entries that cannot be read are counted and reported, never silently dropped.`,
  async run(argv) {
    const dir = stateDirFlag(argv)
    const { recoverStateFile } = await import('../state/integrity.js')
    const report = await recoverStateFile(dir)
    for (const db of report.databases) {
      process.stdout.write(
        `${db.name}: ${db.copied} entries copied${db.skipped ? `, ${db.skipped} unreadable skipped` : ''}${db.lostRest ? ', the rest of it is unreadable' : ''}\n`,
      )
    }
    if (report.identityFromBackup) process.stdout.write('agent identity restored from identity.json\n')
    process.stdout.write(`the damaged file is kept as ${report.damagedFile}\n`)
    const lost = report.databases.some((d) => d.skipped > 0 || d.lostRest)
    if (lost)
      process.stdout.write(
        'some entries could not be read: data from those batches may have to be extracted again\n',
      )
    return EXIT.ok
  },
}

export const agentCommands: Command[] = [agentCommand, runCommand, stateCheckCommand, stateRecoverCommand]
