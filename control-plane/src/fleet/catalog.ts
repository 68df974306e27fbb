/**
 * What each agent should run: every pipeline whose selector matches the agent's labels, at the
 * version meant for that agent — the pipeline's stable version, or, while a rollout is under way,
 * its new version for the agents of the waves started so far and the old one for the rest.
 * Versions and parsed selectors are cached until pipelines or rollouts change, so computing
 * desired states for thousands of agents does not re-read or re-parse specs.
 */
import { matchesSelector, type Selector } from '@outpost/shared'
import type { EventBus } from '../events.js'
import type { PipelineVersionRecord, RolloutRecord, Store } from '../store/types.js'

export interface Assignment {
  name: string
  version: number
  hash: string
  specJson: string
}

interface VersionEntry {
  version: PipelineVersionRecord
  selector: Selector | undefined
}

interface CatalogEntry {
  name: string
  stable: VersionEntry | undefined
  rollout?: { record: RolloutRecord; to: VersionEntry | undefined; agents: Set<string> }
}

export const isActive = (r: RolloutRecord) => r.state === 'running' || r.state === 'paused'

export class PipelineCatalog {
  private entries: Map<string, CatalogEntry> | undefined
  private loading: Promise<Map<string, CatalogEntry>> | undefined

  constructor(
    private readonly store: Store,
    events: EventBus,
  ) {
    events.on('pipelines', () => this.invalidate())
  }

  invalidate(): void {
    this.entries = undefined
    this.loading = undefined
  }

  private async entry(name: string, version: number): Promise<VersionEntry | undefined> {
    if (version < 1) return undefined
    const record = await this.store.getPipelineVersion(name, version)
    if (!record) return undefined
    const doc = JSON.parse(record.specJson) as { spec?: { selector?: Selector } }
    return { version: record, selector: doc.spec?.selector }
  }

  private async load(): Promise<Map<string, CatalogEntry>> {
    if (this.entries) return this.entries
    this.loading ??= (async () => {
      const map = new Map<string, CatalogEntry>()
      const active = new Map(
        (await this.store.listRollouts()).filter(isActive).map((r) => [r.pipeline, r] as const),
      )
      for (const p of await this.store.listPipelines()) {
        const rollout = active.get(p.name)
        const stableVersion = rollout ? rollout.fromVersion : (p.stableVersion ?? p.latestVersion)
        map.set(p.name, {
          name: p.name,
          stable: await this.entry(p.name, stableVersion),
          ...(rollout
            ? {
                rollout: {
                  record: rollout,
                  to: await this.entry(p.name, rollout.toVersion),
                  agents: new Set(rollout.waves.slice(0, rollout.currentWave + 1).flatMap((w) => w.agents)),
                },
              }
            : {}),
        })
      }
      this.entries = map
      return map
    })()
    return this.loading
  }

  async assignmentsFor(agent: { id: string; labels: Record<string, string> }): Promise<Assignment[]> {
    const entries = await this.load()
    const out: Assignment[] = []
    for (const e of entries.values()) {
      const chosen = e.rollout?.agents.has(agent.id) ? e.rollout.to : e.stable
      if (!chosen || !matchesSelector(chosen.selector, agent.labels)) continue
      const v = chosen.version
      out.push({ name: v.name, version: v.version, hash: v.hash, specJson: v.specJson })
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  /** The selector of a pipeline version (for choosing a rollout's agents). */
  async selectorOf(name: string, version: number): Promise<Selector | undefined> {
    return (await this.entry(name, version))?.selector
  }
}
