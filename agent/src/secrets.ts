/**
 * `${secret:NAME}` references in pipeline specs, resolved only on the agent: from the
 * environment (OUTPOST_SECRET_NAME) or a local secrets file of NAME=value lines that only its
 * owner may read. Resolved values never leave the site: logs and reports redact them.
 */
import { readFileSync, statSync } from 'node:fs'
import { OutpostError } from '@outpost/shared'

export const SECRET_REF = /\$\{secret:([A-Za-z_][A-Za-z0-9_]*)\}/g

export class SecretError extends OutpostError {
  readonly code = 'secret_unavailable'
  readonly retryable = false
}

export class SecretResolver {
  private readonly fromFile = new Map<string, string>()
  private readonly used = new Set<string>()

  constructor(private readonly options: { file?: string; env?: NodeJS.ProcessEnv } = {}) {
    if (options.file) this.load(options.file)
  }

  private load(file: string): void {
    let mode: number
    try {
      mode = statSync(file).mode
    } catch (error) {
      throw new SecretError(`secrets file ${file} cannot be read: ${(error as Error).message}`)
    }
    if ((mode & 0o077) !== 0) {
      throw new SecretError(
        `secrets file ${file} is readable by others (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${file}`,
      )
    }
    const text = readFileSync(file, 'utf8')
    text.split('\n').forEach((line, i) => {
      const trimmed = line.trim()
      if (!trimmed || trimmed.startsWith('#')) return
      const at = trimmed.indexOf('=')
      if (at <= 0) throw new SecretError(`secrets file ${file}, line ${i + 1}: expected NAME=value`)
      let value = trimmed.slice(at + 1).trim()
      if (
        value.length >= 2 &&
        ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))
      )
        value = value.slice(1, -1)
      this.fromFile.set(trimmed.slice(0, at).trim(), value)
    })
  }

  get(name: string): string {
    const env = this.options.env ?? process.env
    const value = env[`OUTPOST_SECRET_${name}`] ?? this.fromFile.get(name)
    if (value === undefined) {
      throw new SecretError(
        `secret "${name}" is not defined on this agent: set OUTPOST_SECRET_${name} or add ${name}=… to the secrets file`,
      )
    }
    this.used.add(value)
    return value
  }

  /** Replaces every ${secret:NAME} in the text. */
  resolve(text: string): string {
    return text.replace(SECRET_REF, (_, name: string) => this.get(name))
  }

  /** Resolves references in every string of an options object (a copy; the spec stays as written). */
  resolveDeep<T>(value: T): T {
    if (typeof value === 'string') return this.resolve(value) as T
    if (Array.isArray(value)) return value.map((v) => this.resolveDeep(v)) as T
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolveDeep(v)])) as T
    }
    return value
  }

  /** Values resolved so far, for redaction. */
  values(): string[] {
    return [...this.used]
  }

  /** Replaces every resolved value in a text by ***. */
  redact(text: string): string {
    let out = text
    for (const v of this.used) if (v.length >= 4) out = out.split(v).join('***')
    return out
  }
}
