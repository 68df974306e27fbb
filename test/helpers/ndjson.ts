/** Reads every NDJSON file a file sink wrote under `dir` (none yet: no rows). */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export function readNdjsonDir<T = Record<string, unknown>>(dir: string): T[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .flatMap((e) => readFileSync(join(e.parentPath, e.name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as T)
}
