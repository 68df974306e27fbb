/** Appends to the audit log (and the control plane's log): who did what to what, and when. */
import type { Logger } from '@outpost/agent'
import type { Context } from 'hono'
import { actorOf } from './auth/auth.js'
import type { EventBus } from './events.js'
import type { Store } from './store/types.js'

export type Audit = (
  actor: Context | string,
  action: string,
  target: string,
  details?: Record<string, unknown>,
) => Promise<void>

export function auditTo(store: Store, log: Logger, events?: EventBus): Audit {
  return async (actor, action, target, details) => {
    const who = typeof actor === 'string' ? actor : actorOf(actor)
    const record = await store.appendAudit({
      at: Date.now(),
      actor: who,
      action,
      target,
      ...(details ? { details } : {}),
    })
    log.info('audit', { actor: who, action, target, ...(details ? { details } : {}) })
    events?.emit('audit', record)
  }
}
