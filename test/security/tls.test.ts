// TLS between agents and the control plane, with a CA and certificates made here by openssl:
// the right CA connects; a wrong CA and an expired certificate are refused; with mutual TLS an
// agent needs a certificate the control plane's client CA signed.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  type ControlPlaneHandle,
  createToken,
  type OutpostProcess,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'

const dir = mkdtempSync(join(tmpdir(), 'outpost-tls-'))
const f = (name: string) => join(dir, name)
const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })

/** A CA, and certificates it signs: for the server (127.0.0.1), expired, and for a client. */
function makePki(): void {
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n')
  for (const ca of ['ca', 'other-ca'])
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${ca}`,
    )
  const sign = (name: string, ca: string, days: string, ext: string) => {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    )
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      days,
      '-extfile',
      ext,
    )
  }
  sign('server', 'ca', '2', 'san.ext')
  sign('expired', 'ca', '-1', 'san.ext')
  sign('stranger', 'other-ca', '2', 'san.ext')
  sign('client', 'ca', '2', 'client.ext')
}

describe('TLS to the control plane', () => {
  let nats: NatsServer
  const cps: ControlPlaneHandle[] = []
  const agents: OutpostProcess[] = []
  beforeAll(async () => {
    makePki()
    nats = await startNats()
  })
  afterAll(async () => {
    for (const a of agents) await a.stop()
    for (const cp of cps) await cp.process.stop()
    await nats?.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  const controlPlane = async (cert: string, clientCa?: string) => {
    const cp = await startControlPlane(nats.url, {
      extraArgs: [
        '--grpc-tls-cert',
        f(`${cert}.pem`),
        '--grpc-tls-key',
        f(`${cert}.key`),
        ...(clientCa ? ['--grpc-tls-client-ca', f(`${clientCa}.pem`)] : []),
      ],
    })
    cps.push(cp)
    return cp
  }
  const agent = async (cp: ControlPlaneHandle, args: string[]) => {
    const { process: p } = await startAgent(cp.grpc, { token: await createToken(cp.api), extraArgs: args })
    agents.push(p)
    return p
  }
  const refused = (p: OutpostProcess, pattern: RegExp) =>
    p
      .waitForLog((l) => pattern.test(JSON.stringify(l)), `a refusal matching ${pattern}`, 20_000)
      .catch(async (error) => {
        // An agent that cannot enrol may also exit; its output still says why.
        if (pattern.test(p.output.join('\n'))) return
        throw error
      })

  it('connects with the right CA, and refuses a wrong CA and an expired certificate', async () => {
    const cp = await controlPlane('server')
    const good = await agent(cp, ['--tls-ca', f('ca.pem')])
    await good.waitForLog((l) => l.msg === 'connected to control plane', 'connect over TLS')

    const wrong = await agent(cp, ['--tls-ca', f('other-ca.pem')])
    await refused(wrong, /self.signed|unable to (get|verify)|certificate/i)
    expect(wrong.logs.some((l) => l.msg === 'connected to control plane')).toBe(false)

    const expired = await controlPlane('expired')
    const late = await agent(expired, ['--tls-ca', f('ca.pem')])
    await refused(late, /expired/i)
    expect(late.logs.some((l) => l.msg === 'connected to control plane')).toBe(false)

    // A plain-text agent is not served by a TLS listener.
    const plain = await agent(cp, [])
    await new Promise((r) => setTimeout(r, 2000))
    expect(plain.logs.some((l) => l.msg === 'connected to control plane')).toBe(false)
  })

  it('with mutual TLS, serves only agents with a certificate its client CA signed', async () => {
    const cp = await controlPlane('server', 'ca')
    const without = await agent(cp, ['--tls-ca', f('ca.pem')])
    await new Promise((r) => setTimeout(r, 2000))
    expect(without.logs.some((l) => l.msg === 'connected to control plane')).toBe(false)
    const stranger = await agent(cp, [
      '--tls-ca',
      f('ca.pem'),
      '--tls-cert',
      f('stranger.pem'),
      '--tls-key',
      f('stranger.key'),
    ])
    await new Promise((r) => setTimeout(r, 1000))
    expect(stranger.logs.some((l) => l.msg === 'connected to control plane')).toBe(false)
    const client = await agent(cp, [
      '--tls-ca',
      f('ca.pem'),
      '--tls-cert',
      f('client.pem'),
      '--tls-key',
      f('client.key'),
    ])
    await client.waitForLog(
      (l) => l.msg === 'connected to control plane',
      'connect with a client certificate',
    )
  })
})
