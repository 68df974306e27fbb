// Rolling a pipeline version out to real agents: a canary goes wave by wave, a failing version is
// stopped by the gate, an abort sends agents back, and an undo rolls back to an earlier version.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  api,
  createToken,
  type OutpostProcess,
  runCli,
  type Site,
  startAgent,
  startSite,
} from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'

interface Agent {
  id: string
  applied: { name: string; version: number; state: string }[]
}

describe('rollouts', () => {
  let site: Site
  const more: OutpostProcess[] = []
  const work = mkdtempSync(join(tmpdir(), 'outpost-rollout-'))
  beforeAll(async () => {
    site = await startSite()
    for (const name of ['edge-b', 'edge-c']) {
      const { process: p } = await startAgent(site.cp.grpc, { token: await createToken(site.cp.api), name })
      await p.waitForLog((l) => l.msg === 'connected to control plane', 'connect')
      more.push(p)
    }
  })
  afterAll(async () => {
    for (const p of more) await p.stop()
    await site?.stop()
    rmSync(work, { recursive: true, force: true })
  })

  const file = (version: number, source: Record<string, unknown>) => {
    const path = join(work, `v${version}.yaml`)
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: 'outpost/v1',
        kind: 'Pipeline',
        metadata: { name: 'canary', labels: { v: String(version) } },
        spec: {
          schedule: { every: '1s' },
          source,
          retry: { attempts: 1 },
          sinks: [{ type: 'file', path: join(work, 'out') }],
        },
      }),
    )
    return path
  }
  const csv = { type: 'csv', path: join(work, 'in', '*.csv') }
  const applied = async () => {
    const agents = (await api<{ items: Agent[] }>(site.cp.api, 'GET', '/api/v1/agents')).body.items
    return agents
      .map((a) => a.applied.find((p) => p.name === 'canary' && p.state === 'applied')?.version ?? 0)
      .sort()
  }

  it('goes wave by wave, pauses on a failing version, aborts back, and rolls back', async () => {
    const env = { OUTPOST_SERVER: site.cp.api }
    expect((await runCli(['apply', '-f', file(1, csv)], env)).stdout).toContain('version 1 created')
    await waitFor('all agents on version 1', async () =>
      (await applied()).join() === '1,1,1' ? true : undefined,
    )

    const v2 = await runCli(
      // A soak long enough that a loaded machine (a slow CLI start) still checks inside it.
      ['apply', '-f', file(2, { ...csv, delimiter: ';' }), '--canary', '1', '--soak', '8s'],
      env,
    )
    expect(v2.stdout).toMatch(/version 2 updated \(canary rollout rol-\w+, 2 waves\)/)
    await waitFor('the first wave on version 2', async () =>
      (await applied()).join() === '1,1,2' ? true : undefined,
    )
    const status = await runCli(['rollout', 'status', 'canary'], env)
    expect(status.stdout).toMatch(/version 1 → 2 \(canary\), running, wave 1 of 2 \(1, 100%\)/)
    expect(status.stdout.match(/waiting/g)?.length).toBe(2)
    // Nobody moves on before the soak is over.
    await new Promise((r) => setTimeout(r, 1000))
    expect((await applied()).join()).toBe('1,1,2')
    await waitFor(
      'every agent on version 2',
      async () => ((await applied()).join() === '2,2,2' ? true : undefined),
      30_000,
    )
    await waitFor('the rollout to complete', async () =>
      (await runCli(['rollout', 'status', 'canary'], env)).stdout.includes('completed') ? true : undefined,
    )

    // Version 3 reads from a database that is not there: its first run fails and the gate pauses it.
    await runCli(
      [
        'apply',
        '-f',
        file(3, { type: 'postgres', url: 'postgres://127.0.0.1:1/x', table: 't' }),
        '--canary',
        '1',
        '--soak',
        '1m',
      ],
      env,
    )
    const paused = await waitFor(
      'the gate to pause the rollout',
      async () => {
        const r = await runCli(['rollout', 'status', 'canary'], env)
        return r.stdout.includes('paused:') ? r : undefined
      },
      30_000,
    )
    expect(paused.code).toBe(1)
    expect(paused.stdout).toMatch(/paused: run \S+ of version 3 on agent \S+ failed: .*127\.0\.0\.1:1/)
    expect((await applied()).join()).toBe('2,2,3')
    // No version can be added while a rollout is paused.
    const blocked = await runCli(['apply', '-f', file(4, csv)], env)
    expect(blocked.stderr).toMatch(/has a paused rollout of version 3/)

    expect((await runCli(['rollout', 'abort', 'canary'], env)).stdout).toMatch(/aborted/)
    await waitFor('every agent back on version 2', async () =>
      (await applied()).join() === '2,2,2' ? true : undefined,
    )

    const undo = await runCli(['rollout', 'undo', 'canary', '--version', '1'], env)
    expect(undo.stdout).toMatch(/version 2 → 1, all, completed/)
    await waitFor('every agent back on version 1', async () =>
      (await applied()).join() === '1,1,1' ? true : undefined,
    )
    const audit = await runCli(['audit', '--action', 'rollout', '-o', 'json'], env)
    const actions = (JSON.parse(audit.stdout) as { actor: string; action: string }[]).map(
      (a) => `${a.actor} ${a.action}`,
    )
    expect(actions).toEqual(
      expect.arrayContaining([
        'system rollout.pause',
        'token:bootstrap rollout.abort',
        'system rollout.complete',
      ]),
    )
  })
})
