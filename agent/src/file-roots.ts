/**
 * The agent's `file_roots`: when set, every file a pipeline reads or writes (file sources' paths
 * and globs, the file sink's directory, lookup CSV files) must be inside one of these directories,
 * with `..` refused and symbolic links resolved. Unset, any path the agent's user can open is used.
 * Methods return why a path is refused (or undefined); callers throw their own boundary's error.
 */
import { realpathSync } from 'node:fs'
import { realpath } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'

/** A `..` path segment, also inside glob braces (`{a,..}`). */
const PARENT = /(^|[/\\{,])\.\.([/\\},]|$)/

function isInside(root: string, path: string): boolean {
  const r = relative(root, path)
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r))
}

export class FileRoots {
  /** The roots as given (made absolute), and with their symbolic links resolved. */
  private readonly given: string[]
  private readonly real: string[]

  constructor(dirs: readonly string[]) {
    this.given = dirs.map((d) => resolve(d))
    this.real = this.given.map((d) => {
      try {
        return realpathSync(d)
      } catch {
        return d
      }
    })
  }

  /** Roots for a worker thread (a lookup reads its CSV there). */
  get dirs(): string[] {
    return this.given
  }

  private get allowed(): string {
    return `allowed roots: ${this.given.join(', ')}`
  }

  /** Checks a path or glob as written in a spec, without touching the file system. */
  refusal(what: string, pattern: string): string | undefined {
    if (PARENT.test(pattern))
      return `${what} ${pattern} contains "..", which file_roots do not allow (${this.allowed})`
    const absolute = resolve(pattern)
    const inside =
      this.given.some((root) => isInside(root, absolute)) ||
      this.real.some((root) => isInside(root, absolute))
    if (!inside) return `${what} ${absolute} is outside the agent's file_roots (${this.allowed})`
    return undefined
  }

  /**
   * Checks where a path really is, symbolic links resolved; for a path that does not exist yet (a
   * sink's directory), where its nearest existing parent is.
   */
  async realRefusal(what: string, path: string): Promise<string | undefined> {
    const lexical = this.refusal(what, path)
    if (lexical) return lexical
    const real = await realPathOf(resolve(path))
    // Resolved again each time: a root may have been created (or moved behind a link) since start.
    const roots = await Promise.all(this.given.map(realPathOf))
    if (roots.some((root) => isInside(root, real))) return undefined
    return `${what} ${resolve(path)} resolves to ${real} (a symbolic link), outside the agent's file_roots (${this.allowed})`
  }
}

async function realPathOf(path: string): Promise<string> {
  const rest: string[] = []
  let at = path
  for (;;) {
    try {
      return join(await realpath(at), ...rest.reverse())
    } catch (error) {
      const parent = dirname(at)
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) return path
      rest.push(basename(at))
      at = parent
    }
  }
}

const FILE_SOURCES = ['csv', 'ndjson', 'json', 'parquet', 'excel']

/** The spec's file paths a root applies to, with where they are in the spec. */
export function specFilePaths(spec: {
  source: { type: string; path?: unknown }
  transforms: readonly unknown[]
  sinks: readonly { type: string; path?: unknown }[]
}): { field: string; path: string }[] {
  const out: { field: string; path: string }[] = []
  if (FILE_SOURCES.includes(spec.source.type) && typeof spec.source.path === 'string')
    out.push({ field: `spec.source.path (${spec.source.type} source)`, path: spec.source.path })
  spec.transforms.forEach((t, i) => {
    const from = (t as { lookup?: { from?: { type?: string; path?: unknown } } }).lookup?.from
    if (from?.type === 'csv' && typeof from.path === 'string')
      out.push({ field: `spec.transforms[${i}].lookup.from.path`, path: from.path })
  })
  spec.sinks.forEach((s, i) => {
    if (s.type === 'file' && typeof s.path === 'string')
      out.push({ field: `spec.sinks[${i}].path (file sink)`, path: s.path })
  })
  return out
}
