/** The `outpost` command line: a list of commands, each parsing its own flags with node:util. */
import { accessSync, constants } from 'node:fs'
import { resolve } from 'node:path'
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'

export interface Command {
  /** One or two words: `agent`, `token create`. */
  name: string
  summary: string
  usage: string
  run(argv: string[]): Promise<number>
  /** A long-running service (agent, control plane): its heap is sized for throughput. */
  service?: boolean
}

/**
 * How far V8 lets the old generation grow past what survived the last full GC, for the services.
 * V8 picks the growth from how long its GC pauses the main thread; marking runs on helper threads,
 * so it judged full GCs cheap and kept the limit near the live heap (~30 MiB). While batches
 * flowed, the agent and the control plane each marked the whole heap every ~200 ms (17–23 full
 * GCs a million rows), helper-thread CPU that the site's other processes needed: with the limit
 * at 3× the live heap, 4–7, and the central benchmark went 10–15 % faster (bench/RESULTS.md).
 */
const SERVICE_HEAP_GROWING_PERCENT = 200

/** Exit codes shared by every command (documented in the README). */
export const EXIT = { ok: 0, failed: 1, usage: 2, state: 3 } as const

export class UsageError extends Error {
  override name = 'UsageError'
}

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/** `--label a=b --label c=d` → { a: 'b', c: 'd' } */
export function parseLabels(values: readonly string[] | undefined): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const v of values ?? []) {
    const at = v.indexOf('=')
    if (at <= 0) throw new UsageError(`--label expects key=value, got "${v}"`)
    labels[v.slice(0, at)] = v.slice(at + 1)
  }
  return labels
}

export function helpText(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    'Usage: outpost <command> [flags]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `outpost <command> --help` for its flags.',
  ].join('\n')
}

/** Finds and runs a command; never exits the process itself (only main does). */
export async function runCli(commands: readonly Command[], argv: string[]): Promise<number> {
  const [first, second, third] = argv
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(`${helpText(commands)}\n`)
    return first ? EXIT.ok : EXIT.usage
  }
  // The longest matching name wins: `agent state recover` before `agent`.
  const command =
    commands.find((c) => c.name === `${first} ${second} ${third}`) ??
    commands.find((c) => c.name === `${first} ${second}`) ??
    commands.find((c) => c.name === first)
  if (!command) {
    process.stderr.write(`outpost: unknown command "${first}"\n\n${helpText(commands)}\n`)
    return EXIT.usage
  }
  const rest = argv.slice(command.name.split(' ').length)
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`)
    return EXIT.ok
  }
  // Read by V8 whenever it sets the next GC limit, so it applies from here on.
  if (command.service) setFlagsFromString(`--heap-growing-percent=${SERVICE_HEAP_GROWING_PERCENT}`)
  try {
    return await command.run(rest)
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`outpost ${command.name}: ${error.message}\n\n${command.usage}\n`)
      return EXIT.usage
    }
    const e = error as { code?: string; message?: string }
    process.stderr.write(`outpost ${command.name}: ${e.message ?? String(error)}\n`)
    return e.code === 'state_unusable' ? EXIT.state : EXIT.failed
  }
}

/** TLS files for a NATS connection, as the NATS client takes them. */
export interface NatsTlsFiles {
  caFile?: string
  certFile?: string
  keyFile?: string
}

/** Checks NATS TLS settings (readable files; a certificate with its key); undefined when none. */
export function natsTlsFiles(
  files: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined },
  prefix = '--nats-tls-',
): NatsTlsFiles | undefined {
  if (!files.ca && !files.cert && !files.key) return undefined
  if (Boolean(files.cert) !== Boolean(files.key))
    throw new UsageError(`give both ${prefix}cert and ${prefix}key`)
  const out: NatsTlsFiles = {}
  for (const [name, file] of [
    ['ca', files.ca],
    ['cert', files.cert],
    ['key', files.key],
  ] as const) {
    if (!file) continue
    try {
      accessSync(file, constants.R_OK)
    } catch (error) {
      throw new UsageError(
        `${prefix}${name}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      )
    }
    out[`${name}File`] = resolve(file)
  }
  return out
}
