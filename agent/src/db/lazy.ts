/**
 * Database drivers load on first use, not when the agent or a pool thread starts: most sites use
 * one driver or none, and pg, pg-copy-streams and mysql2 took ~75 ms of each thread's start-up
 * (the first chunk of every run waits for it) and memory the agent then kept.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

function onFirstUse<T>(id: string): () => T {
  let loaded: T | undefined
  return () => {
    loaded ??= require(id) as T
    return loaded
  }
}

export const pgDriver = onFirstUse<typeof import('pg')>('pg')
export const pgCopyStreams = onFirstUse<typeof import('pg-copy-streams')>('pg-copy-streams')
export const mysqlDriver = onFirstUse<typeof import('mysql2')>('mysql2')
