/** Debian's Chromium driven by playwright-core (no browser download). */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'

export const SCREENSHOTS = join('test-results', 'screenshots')

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Saves a screenshot as a test artefact under test-results/screenshots. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** Signs in to the console at `url` with an API token, as a user would; waits for the live stream. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url)
  await page.getByLabel('API token').fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByTestId('live-status').filter({ hasText: 'live' }).waitFor()
}

/** How far the page is wider than the viewport (0: no horizontal scrolling of the page). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(
    'document.documentElement.scrollWidth - document.documentElement.clientWidth',
  ) as Promise<number>
}

export interface KeyboardAudit {
  /** Visible controls on the page (through shadow roots). */
  controls: number
  /** Of those, how many Tab reached. */
  reached: number
  /** Controls Tab never reached, described. */
  unreached: string[]
  /** Controls without an accessible name (no aria-label, label, text or title). */
  unlabelled: string[]
  /** Controls that showed no focus ring when Tab reached them. */
  noFocusRing: string[]
}

// In-page scripts are strings: the test project's TypeScript has no DOM library, on purpose.

/** Marks every visible control (through shadow roots) with data-audit=N; returns what each is and whether it has a name. */
const MARK_CONTROLS = `(() => {
  const found = []
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot)
      if (!el.matches('a[href], button:not([disabled]), input:not([type=hidden]), select, textarea')) continue
      if (el.closest('dialog:not([open])') || el.getClientRects().length === 0) continue
      found.push(el)
    }
  }
  walk(document)
  const nameOf = (el) => {
    const root = el.getRootNode()
    const byIds = (el.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean)
      .map((id) => (root.getElementById ? root.getElementById(id)?.textContent : '') || '').join(' ')
    const labels = el.labels ? [...el.labels].map((l) => l.textContent).join(' ') : ''
    const text = el.matches('input, select, textarea') ? '' : el.textContent
    return (el.getAttribute('aria-label') || byIds || labels || text || el.getAttribute('title') || '').trim()
  }
  return found.map((el, i) => {
    el.setAttribute('data-audit', String(i))
    const what = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' + (el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 40) + '"'
    return { what, named: nameOf(el) !== '' }
  })
})()`

/** The focused element (through shadow roots): its data-audit mark and whether it shows an outline. */
const FOCUSED = `(() => {
  let el = document.activeElement
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement
  if (!el || el === document.body) return null
  const style = getComputedStyle(el)
  return {
    index: el.getAttribute('data-audit'),
    ring: style.outlineStyle !== 'none' && style.outlineWidth !== '0px',
  }
})()`

/**
 * Tabs through the whole page and reports which visible controls Tab cannot reach, which have no
 * accessible name and which show no focus outline when reached.
 */
export async function keyboardAudit(page: Page, maxTabs = 400): Promise<KeyboardAudit> {
  const controls = (await page.evaluate(MARK_CONTROLS)) as { what: string; named: boolean }[]
  await page.evaluate('document.activeElement && document.activeElement.blur()')
  const reached = new Map<number, boolean>()
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab')
    const focused = (await page.evaluate(FOCUSED)) as { index: string | null; ring: boolean } | null
    if (!focused || focused.index === null) continue
    const index = Number(focused.index)
    // Back at a control already seen: the Tab order went round once.
    if (reached.has(index)) break
    reached.set(index, focused.ring)
  }
  return {
    controls: controls.length,
    reached: reached.size,
    unreached: controls.filter((_, i) => !reached.has(i)).map((c) => c.what),
    unlabelled: controls.filter((c) => !c.named).map((c) => c.what),
    noFocusRing: [...reached].filter(([, ring]) => !ring).map(([i]) => controls[i]?.what ?? String(i)),
  }
}

/**
 * Starts counting rows added to or removed from the console's fleet table and remembers the rows
 * shown now; `rowsKept` then says how many of those are still in the page, and how many were
 * added or removed since.
 */
export async function watchFleetRows(page: Page): Promise<() => Promise<{ kept: number; changes: number }>> {
  await page.evaluate(`(() => {
    const root = document.querySelector('op-app').shadowRoot.querySelector('op-fleet-view').shadowRoot
    window.__rows = [...root.querySelectorAll('tr[data-agent-id]')]
    window.__changes = 0
    new MutationObserver((list) => (window.__changes += list.length))
      .observe(root.querySelector('tbody'), { childList: true })
  })()`)
  return async () =>
    (await page.evaluate(
      '({ kept: window.__rows.filter((el) => el.isConnected).length, changes: window.__changes })',
    )) as { kept: number; changes: number }
}
