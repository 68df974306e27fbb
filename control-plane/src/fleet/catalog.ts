/**
 * What each agent should run: every pipeline whose selector matches the agent's labels, at its
 * latest version. Parsed selectors are cached per version, so computing a desired state for
 * thousands of agents does not re-parse specs.
 */
import { matchesSelector, type Selector } from '@outpost/shared'
import type { EventBus } from '../events.js'
import type { PipelineVersionRecord, Store } from '../store/types.js'

export interface Assignment {
  name: string
  version: number
  hash: string
  specJson: string
}

interface CatalogEntry {
  version: PipelineVersionRecord
  selector: Selector | undefined
}

export class PipelineCatalog {
  private entries: Map<string, CatalogEntry> | undefined
  private loading: Promise<Map<string, CatalogEntry>> | undefined

  constructor(
    private readonly store: Store,
    events: EventBus,
  ) {
    events.on('pipelines', () => {
      this.entries = undefined
      this.loading = undefined
    })
  }

  private async load(): Promise<Map<string, CatalogEntry>> {
    if (this.entries) return this.entries
    this.loading ??= (async () => {
      const map = new Map<string, CatalogEntry>()
      for (const p of await this.store.listPipelines()) {
        const version = await this.store.getPipelineVersion(p.name, p.latestVersion)
        if (!version) continue
        const doc = JSON.parse(version.specJson) as { spec?: { selector?: Selector } }
        map.set(p.name, { version, selector: doc.spec?.selector })
      }
      this.entries = map
      return map
    })()
    return this.loading
  }

  async assignmentsFor(labels: Record<string, string>): Promise<Assignment[]> {
    const entries = await this.load()
    const out: Assignment[] = []
    for (const { version, selector } of entries.values()) {
      if (!matchesSelector(selector, labels)) continue
      out.push({
        name: version.name,
        version: version.version,
        hash: version.hash,
        specJson: version.specJson,
      })
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Agents (by labels) a pipeline's latest version targets. */
  async selectorOf(name: string): Promise<Selector | undefined> {
    return (await this.load()).get(name)?.selector
  }
}
