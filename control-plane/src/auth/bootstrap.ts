/**
 * The first admin token. A control plane with no API tokens creates one and writes it to
 * `<data dir>/admin-token` (mode 0600), where the CLI on the same host finds it; print it with
 * `cat` and create named tokens for people and automation. OUTPOST_BOOTSTRAP_TOKEN, when set,
 * is installed as an admin token instead (for automation that must know it in advance).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '@outpost/agent'
import { hashSecret } from '../grpc/credentials.js'
import type { Store } from '../store/types.js'
import { newApiToken } from './auth.js'

export const ADMIN_TOKEN_FILE = 'admin-token'

export async function bootstrapAdminToken(store: Store, dataDir: string, log: Logger): Promise<void> {
  const given = process.env.OUTPOST_BOOTSTRAP_TOKEN
  if (given) {
    if (given.length < 24) throw new Error('OUTPOST_BOOTSTRAP_TOKEN must be at least 24 characters')
    if (await store.findApiToken(hashSecret(given))) return
    const { record } = newApiToken('bootstrap', 'admin', 'system')
    await store.createApiToken({ ...record, hash: hashSecret(given) })
    log.info('bootstrap admin token installed from OUTPOST_BOOTSTRAP_TOKEN')
    return
  }
  if ((await store.listApiTokens()).length > 0) return
  const { token, record } = newApiToken('admin', 'admin', 'system')
  await store.createApiToken(record)
  const file = join(dataDir, ADMIN_TOKEN_FILE)
  writeFileSync(file, `${token}\n`, { mode: 0o600 })
  log.info('first admin API token created', { file })
}
