/** What a PostgreSQL or network error means for a retry, and a message that says it plainly. */
const PERMANENT_CLASSES = ['22', '23', '42', '28', '3D', '3F']

/** SQLSTATE classes: 08 connection, 53 resources, 57 operator intervention, 40 transaction rollback. */
export function isRetryablePgError(error: unknown): boolean {
  const code = (error as { code?: string })?.code
  if (typeof code !== 'string') return true
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN', 'EPIPE'].includes(code))
    return true
  if (code === 'ENOTFOUND') return false
  if (code.length === 5) return !PERMANENT_CLASSES.includes(code.slice(0, 2))
  return true
}

export function pgErrorMessage(error: unknown): string {
  const e = error as { code?: string; message?: string; detail?: string }
  const base = e?.message ?? String(error)
  const what =
    e?.code === '28P01' || e?.code === '28000'
      ? 'authentication failed'
      : e?.code === '3D000'
        ? 'database does not exist'
        : e?.code === '42P01'
          ? 'table does not exist'
          : e?.code === 'ECONNREFUSED'
            ? 'connection refused'
            : e?.code === 'ENOTFOUND'
              ? 'host not found'
              : e?.code === '57014'
                ? 'statement timeout'
                : undefined
  return `${what ? `${what}: ` : ''}${base}${e?.detail ? ` (${e.detail})` : ''}`
}
