/**
 * The agent's configuration file (`--config /etc/outpost/agent.yaml`), one schema for every
 * setting. Precedence: the file < environment variables < flags. `outpost agent --check-config`
 * validates and prints the result without starting.
 */
import { readFileSync } from 'node:fs'
import { labels } from '@outpost/shared'
import { isMap, LineCounter, parseDocument } from 'yaml'
import * as z from 'zod'

export const agentConfigSchema = z
  .strictObject({
    control_plane: z.string().min(1).optional().describe('host:port of the control plane gRPC listener.'),
    token: z.string().min(1).optional().describe('Enrolment token; needed only for the first start.'),
    state_dir: z
      .string()
      .min(1)
      .optional()
      .describe('Identity, cursors, outbox and quarantine (default /var/lib/outpost/agent under systemd).'),
    name: z.string().min(1).max(128).optional().describe('Display name (default: the host name).'),
    labels: labels.optional().describe('Labels sent at enrolment.'),
    nats: z
      .array(z.string().min(1))
      .optional()
      .describe('NATS URLs to use instead of those the control plane gives.'),
    nats_tls: z
      .strictObject({
        ca: z
          .string()
          .min(1)
          .optional()
          .describe("CA file (PEM) that signed the NATS servers' certificates."),
        cert: z.string().min(1).optional().describe('Client certificate (PEM), when NATS asks for one.'),
        key: z.string().min(1).optional().describe('Its private key.'),
      })
      .optional()
      .describe('TLS to NATS.'),
    threads: z.number().int().positive().optional().describe('Worker threads (default: cores - 1).'),
    max_runs: z.number().int().positive().optional().describe('Pipelines run at once (default 2).'),
    disk_budget: z
      .union([z.string(), z.number().int().positive()])
      .optional()
      .describe('Bytes the outbox may hold, e.g. 1GiB.'),
    secrets_file: z.string().min(1).optional().describe('NAME=value lines for ${secret:NAME}; mode 0600.'),
    metrics_listen: z.string().min(1).optional().describe('HOST:PORT for /metrics, /healthz, /readyz.'),
    file_roots: z
      .array(z.string().min(1))
      .optional()
      .describe(
        'Directories every file a pipeline reads or writes must be inside (file sources and globs, file sinks, lookup CSV files); `..` and symbolic links out of them are refused. Unset: any path the agent user can open; set it on shared hosts.',
      ),
    max_row_bytes: z
      .union([z.string(), z.number().int().positive()])
      .optional()
      .describe(
        'Largest record a source may produce, e.g. 16MiB (the default); larger rows are quarantined.',
      ),
    max_field_bytes: z
      .union([z.string(), z.number().int().positive()])
      .optional()
      .describe(
        'Largest value in a record, e.g. 8MiB (the default); rows holding a larger one are quarantined.',
      ),
    max_columns: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Most columns (non-null values) in a record (default 2000); wider rows are quarantined.'),
    tls: z
      .strictObject({
        ca: z.string().min(1).optional().describe('CA file (PEM) to trust; default: the system CAs.'),
        cert: z.string().min(1).optional().describe('Client certificate (PEM) for mutual TLS.'),
        key: z.string().min(1).optional().describe('Its private key.'),
      })
      .optional()
      .describe('TLS to the control plane.'),
    log_level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
    log_format: z.enum(['json', 'pretty']).optional(),
  })
  .describe('outpost agent --config FILE')

export type AgentConfig = z.output<typeof agentConfigSchema>

/** The flag each setting corresponds to. */
export const CONFIG_FLAGS: Record<keyof AgentConfig, string> = {
  control_plane: 'control-plane',
  token: 'token',
  state_dir: 'state-dir',
  name: 'name',
  labels: 'label',
  nats: 'nats',
  nats_tls: 'nats-tls-ca',
  threads: 'threads',
  max_runs: 'max-runs',
  disk_budget: 'disk-budget',
  secrets_file: 'secrets-file',
  metrics_listen: 'metrics-listen',
  file_roots: 'file-root',
  max_row_bytes: 'max-row-bytes',
  max_field_bytes: 'max-field-bytes',
  max_columns: 'max-columns',
  tls: 'tls',
  log_level: 'log-level',
  log_format: 'log-format',
}

export class ConfigError extends Error {
  readonly code = 'config'
}

/** Reads and validates a config file; every problem names the file, the field and the line. */
export function loadAgentConfig(path: string): AgentConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    )
  }
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const line = lines.linePos(e.pos[0]).line
    throw new ConfigError(`${path}:${line}: not valid YAML: ${e.message.split('\n')[0]}`)
  }
  const value = doc.toJS() ?? {}
  const parsed = agentConfigSchema.safeParse(value)
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues.map((issue) => {
    const path0 = issue.path.map(String)
    const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : path0.join('.')
    let line: number | undefined
    const node = isMap(doc.contents) && path0.length > 0 ? doc.getIn(path0, true) : undefined
    const range = (node as { range?: [number, number, number] } | undefined)?.range
    if (range) line = lines.linePos(range[0]).line
    const message = issue.code === 'unrecognized_keys' ? 'unknown setting' : issue.message
    return `${path}${line ? `:${line}` : ''}: ${field || '(file)'}: ${message}`
  })
  throw new ConfigError(problems.join('\n'))
}
