/**
 * The console's budgets: its JavaScript gzipped, the first meaningful render on loopback (from
 * navigation to the fleet table showing its rows, in headless Chromium, a fresh browser context
 * each load), and how fast the fleet table answers with 10,000 agents (a search, a sort, the
 * state filter: from the input until the frame that shows the result). A real control plane and
 * 10,000 agents over the real agent protocol (test/helpers/simulated-fleet.ts).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { type Browser, chromium } from 'playwright-core'
import { startNats } from '../../test/helpers/nats.js'
import { ADMIN_TOKEN, startControlPlane } from '../../test/helpers/outpost.js'
import { SimulatedFleet } from '../../test/helpers/simulated-fleet.js'
import { type Measurement, summarize } from '../lib/stats.js'

export interface ConsoleBudgets {
  gzipKiB: number
  /** Agents in the fleet table when it was timed. */
  agents: number
  /**
   * First meaningful render with 100 agents (all connected), then with 10,000 (100 connected);
   * `listAsked` and `listReceived`: when the page asked for the agent list and when it had all of
   * it (after that, the browser's work).
   */
  firstRender: { agents: number; ms: Measurement; listAsked: Measurement; listReceived: Measurement }[]
  search: Measurement
  sort: Measurement
  filter: Measurement
  /** GET /api/v1/agents with every agent, from Node on the same machine: part of the first render. */
  agentsApi: { ms: Measurement; bytes: number }
}

/** Every JavaScript file the console serves, gzipped (default level, as a server would). */
export function consoleGzipKiB(dir: string): number {
  const files = readdirSync(dir).filter((f) => f.endsWith('.js'))
  return files.reduce((n, f) => n + gzipSync(readFileSync(join(dir, f))).length, 0) / 1024
}

// In-page scripts are strings: the bench's TypeScript has no DOM library.

/** Finds an element through shadow roots. */
const DEEP = `const deep = (root, sel) => {
  const hit = root.querySelector(sel)
  if (hit) return hit
  for (const el of root.querySelectorAll('*'))
    if (el.shadowRoot) { const h = deep(el.shadowRoot, sel); if (h) return h }
  return null
}`

/** Before the console's scripts: the token (as signing in leaves it) and a frame-by-frame watch for the first agent row. */
const WATCH_FIRST_ROWS = `sessionStorage.setItem('outpost.token', ${JSON.stringify(ADMIN_TOKEN)})
${DEEP}
const tick = () => {
  if (deep(document, 'tr[data-agent-id]')) window.__firstRows = performance.now()
  else requestAnimationFrame(tick)
}
requestAnimationFrame(tick)`

/** One interaction with the fleet table, timed from the input to the frame whose DOM shows the result. */
function interaction(action: 'search' | 'filter' | 'sort', value: string, expect: string): string {
  return `(async () => {
  ${DEEP}
  const fleet = deep(document, 'op-fleet-view').shadowRoot
  const range = () => fleet.querySelector('[data-testid="fleet-range"]').textContent
  const firstRow = () => fleet.querySelector('tr[data-agent-id]')?.getAttribute('data-agent-id')
  const before = firstRow()
  const done = ${
    action === 'sort' ? '() => firstRow() !== before' : `() => range() === ${JSON.stringify(expect)}`
  }
  const t0 = performance.now()
  ${
    action === 'search'
      ? `const input = fleet.querySelector('input[type=search]')
  input.value = ${JSON.stringify(value)}
  input.dispatchEvent(new Event('input', { bubbles: true, composed: true }))`
      : action === 'filter'
        ? `const select = fleet.querySelector('select[aria-label="Filter by state"]')
  select.value = ${JSON.stringify(value)}
  select.dispatchEvent(new Event('change', { bubbles: true }))`
        : `;[...fleet.querySelectorAll('th button')].find((b) => b.textContent.trim().startsWith(${JSON.stringify(value)})).click()`
  }
  await new Promise((resolve, reject) => {
    const give = setTimeout(() => reject(new Error('no result after 30 s: ' + range())), 30000)
    const tick = () => (done() ? (clearTimeout(give), resolve()) : requestAnimationFrame(tick))
    requestAnimationFrame(tick)
  })
  return performance.now() - t0
})()`
}

async function firstRenders(
  browser: Browser,
  url: string,
  agents: number,
  loads: number,
): Promise<ConsoleBudgets['firstRender'][number]> {
  const samples: number[] = []
  const asked: number[] = []
  const received: number[] = []
  // One warm-up load (the control plane's first answers are slower), then the measured ones.
  for (let i = 0; i <= loads; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    await context.addInitScript(WATCH_FIRST_ROWS)
    const page = await context.newPage()
    await page.goto(url)
    await page.waitForFunction('window.__firstRows !== undefined', undefined, { timeout: 60_000 })
    const ms = (await page.evaluate('window.__firstRows')) as number
    const list = (await page.evaluate(
      `(() => { const e = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/api/v1/agents')); return [e?.startTime ?? 0, e?.responseEnd ?? 0] })()`,
    )) as [number, number]
    if (i > 0) {
      samples.push(ms)
      asked.push(list[0])
      received.push(list[1])
    }
    await context.close()
  }
  return { agents, ms: summarize(samples), listAsked: summarize(asked), listReceived: summarize(received) }
}

async function timeAgentList(api: string, times: number): Promise<ConsoleBudgets['agentsApi']> {
  const samples: number[] = []
  let bytes = 0
  for (let i = 0; i <= times; i++) {
    const t0 = performance.now()
    const response = await fetch(`${api}/api/v1/agents`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    bytes = (await response.arrayBuffer()).byteLength
    if (i > 0) samples.push(performance.now() - t0)
  }
  return { ms: summarize(samples), bytes }
}

export async function consoleBudgets(root: string, options: { loads: number; repeats: number }) {
  const gzipKiB = consoleGzipKiB(join(root, 'console/dist'))
  const nats = await startNats()
  const cp = await startControlPlane(nats.url)
  const fleet = new SimulatedFleet(cp.grpc)
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  })
  try {
    const name = (i: number) => ({
      name: `sim-${String(i).padStart(5, '0')}`,
      labels: { region: ['apac', 'eu', 'us'][i % 3] as string, tier: i % 2 ? 'gold' : 'silver' },
    })
    await fleet.enroll(cp.api, 100, name)
    await fleet.connect(fleet.agents)
    const firstRender = [await firstRenders(browser, cp.api, 100, options.loads)]
    await fleet.enroll(cp.api, 9900, (i) => name(i + 100))
    const total = fleet.agents.length
    const agentsApi = await timeAgentList(cp.api, options.loads)
    firstRender.push(await firstRenders(browser, cp.api, total, options.loads))

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    await context.addInitScript(WATCH_FIRST_ROWS)
    const page = await context.newPage()
    await page.goto(cp.api)
    const all = `1–50 of ${total}`
    await page.waitForFunction(
      `(() => { ${DEEP}; return deep(document, '[data-testid="fleet-range"]')?.textContent === ${JSON.stringify(all)} })()`,
      undefined,
      { timeout: 60_000 },
    )
    const run = async (script: string, reset?: string) => {
      const samples: number[] = []
      for (let i = 0; i <= options.repeats; i++) {
        const ms = (await page.evaluate(script)) as number
        if (i > 0) samples.push(ms)
        if (reset) await page.evaluate(reset)
      }
      return summarize(samples)
    }
    const search = await run(interaction('search', 'sim-09999', '1–1 of 1'), interaction('search', '', all))
    // Each click reverses the order by name: the first row changes every time.
    const sort = await run(interaction('sort', 'Name', ''))
    const filter = await run(interaction('filter', 'online', '1–50 of 100'), interaction('filter', '', all))
    await context.close()
    return { gzipKiB, agents: total, firstRender, search, sort, filter, agentsApi } satisfies ConsoleBudgets
  } finally {
    await browser.close()
    fleet.close()
    await cp.process.stop()
    await nats.dispose()
  }
}
