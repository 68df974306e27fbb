/**
 * NATS subjects and JetStream streams. Every agent publishes only under its own prefix
 * `outpost.agent.<agentId>.`, which is what per-agent NATS permissions are written against.
 */
export const SUBJECT_ROOT = 'outpost.agent'

export const STREAMS = {
  data: { name: 'OUTPOST_DATA', subjects: [`${SUBJECT_ROOT}.*.data.>`] },
  telemetry: {
    name: 'OUTPOST_TELEMETRY',
    subjects: [`${SUBJECT_ROOT}.*.run.>`, `${SUBJECT_ROOT}.*.metrics`],
  },
  /** Messages the control plane refused (undecodable, wrong schema), kept with the reason. */
  deadLetter: { name: 'OUTPOST_DEADLETTER', subjects: ['outpost.deadletter.>'] },
} as const

export const CONSUMERS = {
  runs: 'outpost-runs',
  data: 'outpost-central',
} as const

export type SubjectKind = 'data' | 'run' | 'metrics'

export function agentSubjectPrefix(agentId: string): string {
  return `${SUBJECT_ROOT}.${agentId}`
}

export const subjects = {
  data: (agentId: string, pipeline: string) => `${SUBJECT_ROOT}.${agentId}.data.${pipeline}`,
  run: (agentId: string, pipeline: string) => `${SUBJECT_ROOT}.${agentId}.run.${pipeline}`,
  metrics: (agentId: string) => `${SUBJECT_ROOT}.${agentId}.metrics`,
  /** Where a refused message goes: its original subject under the dead-letter prefix. */
  deadLetter: (original: string) => `outpost.deadletter.${original}`,
}

export interface ParsedSubject {
  agentId: string
  kind: SubjectKind
  pipeline?: string
}

/** The agent and kind a subject belongs to, or undefined when it is not one of ours. */
export function parseSubject(subject: string): ParsedSubject | undefined {
  const parts = subject.split('.')
  if (parts.length < 4 || parts[0] !== 'outpost' || parts[1] !== 'agent') return undefined
  const agentId = parts[2] as string
  const kind = parts[3]
  if (kind === 'metrics' && parts.length === 4) return { agentId, kind }
  if ((kind === 'data' || kind === 'run') && parts.length === 5)
    return { agentId, kind, pipeline: parts[4] as string }
  return undefined
}
