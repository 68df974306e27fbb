// The release bundle installed as a user would, under a throwaway prefix: the install script lays
// it out, runs twice without harm, and the installed agent really starts from the layout and
// syncs with a control plane; the systemd units pass systemd-analyze verify; uninstall keeps or
// purges the data as asked.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  api,
  type ControlPlaneHandle,
  createToken,
  OutpostProcess,
  startControlPlane,
} from '../helpers/outpost.js'

const release = resolve('dist/release')

describe('release bundle and install script', () => {
  let nats: NatsServer
  let cp: ControlPlaneHandle
  let agent: OutpostProcess | undefined
  const root = mkdtempSync(join(tmpdir(), 'outpost-install-'))
  let tarball: string
  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/package.mjs', '--no-build'], { stdio: 'pipe' })
    tarball = join(
      release,
      readdirSync(release).find((f) => f.startsWith('outpost-agent-') && f.endsWith('.tar.gz'))!,
    )
    nats = await startNats()
    cp = await startControlPlane(nats.url)
  }, 120_000)
  afterAll(async () => {
    await agent?.stop()
    await cp?.process.stop()
    await nats?.dispose()
    rmSync(root, { recursive: true, force: true })
  })

  const install = (...args: string[]) =>
    spawnSync('sh', [resolve('packaging/install-agent.sh'), '--prefix', root, ...args], { encoding: 'utf8' })

  it('installs, re-installs, starts and syncs from the installed layout, and uninstalls', async () => {
    expect(statSync(tarball).size).toBeLessThan(20 * 2 ** 20)
    const token = await createToken(cp.api, { labels: { site: 'packaged' } })
    const args = [
      '--bundle',
      tarball,
      '--control-plane',
      cp.grpc,
      '--token',
      token,
      '--name',
      'pkg-agent',
      '--label',
      'tier=edge',
      '--file-root',
      '/srv/drop',
    ]
    const first = install(...args)
    expect(first.stderr).toBe('')
    expect(first.status).toBe(0)
    expect(first.stdout).toContain(`installed in ${root}/opt/outpost-agent`)
    const again = install(...args)
    expect(again.status).toBe(0)
    const config = readFileSync(join(root, 'etc/outpost/agent.yaml'), 'utf8')
    expect(config).toContain(`control_plane: "${cp.grpc}"`)
    expect(config).toContain('"tier": "edge"')
    expect(config).toContain('file_roots:\n  - "/srv/drop"\n')
    expect(statSync(join(root, 'etc/outpost/agent.yaml')).mode & 0o777).toBe(0o640)
    expect(statSync(join(root, 'var/lib/outpost/agent')).mode & 0o777).toBe(0o700)

    // The unit as installed names the installed launcher and config, and verifies cleanly.
    const unit = join(root, 'etc/systemd/system/outpost-agent.service')
    expect(readFileSync(unit, 'utf8')).toContain(
      `ExecStart=${root}/opt/outpost-agent/bin/outpost agent --config ${root}/etc/outpost/agent.yaml`,
    )
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' })
    expect(verify.stderr).toBe('')
    expect(verify.status).toBe(0)
    const cpUnit = join(root, 'cp.service')
    writeFileSync(
      cpUnit,
      readFileSync('packaging/systemd/outpost-control-plane.service', 'utf8').replaceAll(
        '/opt/outpost-control-plane',
        join(
          release,
          readdirSync(release).find((f) => f.startsWith('outpost-control-plane-') && !f.endsWith('.gz'))!,
        ),
      ),
    )
    expect(spawnSync('systemd-analyze', ['verify', cpUnit], { encoding: 'utf8' }).stderr).toBe('')

    // The installed agent starts from the layout and syncs.
    const child = spawn(
      join(root, 'opt/outpost-agent/bin/outpost'),
      ['agent', '--config', join(root, 'etc/outpost/agent.yaml')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, OUTPOST_LOG_FORMAT: 'json' },
      },
    )
    agent = new OutpostProcess('installed-agent', child)
    await agent.waitForLog(
      (l) => l.msg === 'connected to control plane',
      'the installed agent to connect',
      30_000,
    )
    const agents = await api<{ items: { name: string; state: string; labels: Record<string, string> }[] }>(
      cp.api,
      'GET',
      '/api/v1/agents',
    )
    expect(agents.body.items).toEqual([
      expect.objectContaining({
        name: 'pkg-agent',
        state: 'online',
        labels: { site: 'packaged', tier: 'edge' },
      }),
    ])
    expect(existsSync(join(root, 'var/lib/outpost/agent/state.mdb'))).toBe(true)
    await agent.stop()
    agent = undefined

    // A bad setting is refused before anything is started.
    writeFileSync(join(root, 'etc/outpost/agent.yaml'), `control_plane: "${cp.grpc}"\nmax_runs: lots\n`)
    const bad = install('--bundle', tarball)
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain('max_runs')

    const keep = install('--uninstall')
    expect(keep.status).toBe(0)
    expect(existsSync(join(root, 'opt/outpost-agent'))).toBe(false)
    expect(existsSync(join(root, 'var/lib/outpost/agent/state.mdb'))).toBe(true)
    expect(install('--uninstall', '--purge').status).toBe(0)
    expect(existsSync(join(root, 'var/lib/outpost/agent'))).toBe(false)
    expect(existsSync(join(root, 'etc/outpost/agent.yaml'))).toBe(false)
  })
})
