// TLS between agents and the control plane, and to NATS, with a CA and certificates made here by
// openssl: the right CA connects; a wrong CA and an expired certificate are refused; with mutual
// TLS a client needs a certificate the server's client CA signed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  api,
  type ControlPlaneHandle,
  createToken,
  type OutpostProcess,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'
import { Pki } from '../helpers/pki.js'
import { waitFor } from '../helpers/wait.js'

const pki = new Pki()
const f = (name: string) => pki.file(name)

/** A CA, and certificates it signs: for the server (127.0.0.1), expired, and for a client. */
function makePki(): void {
  for (const ca of ['ca', 'other-ca']) pki.ca(ca)
  pki.sign('server', 'ca', 2, 'server')
  pki.sign('expired', 'ca', -1, 'server')
  pki.sign('stranger', 'other-ca', 2, 'server')
  pki.sign('client', 'ca', 2, 'client')
}

beforeAll(makePki)
afterAll(() => pki.dispose())

describe('TLS to the control plane', () => {
  let nats: NatsServer
  const cps: ControlPlaneHandle[] = []
  const agents: OutpostProcess[] = []
  beforeAll(async () => {
    nats = await startNats()
  })
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()))
    for (const cp of cps) await cp.process.stop()
    await nats?.dispose()
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

describe('TLS to NATS', () => {
  const servers: NatsServer[] = []
  const cps: ControlPlaneHandle[] = []
  const agents: OutpostProcess[] = []
  afterAll(async () => {
    // In parallel: an agent that never reached NATS takes up to 20 s to stop.
    await Promise.all(agents.map((a) => a.stop()))
    for (const cp of cps) await cp.process.stop()
    for (const n of servers) await n.dispose()
  })
  const natsWithTls = async (cert: string, verifyClients = false) => {
    const n = await startNats({
      args: [
        '--tls',
        '--tlscert',
        f(`${cert}.pem`),
        '--tlskey',
        f(`${cert}.key`),
        ...(verifyClients ? ['--tlsverify', '--tlscacert', f('ca.pem')] : []),
      ],
    })
    servers.push(n)
    return n
  }
  const site = async (n: NatsServer, cpArgs: string[]) => {
    const cp = await startControlPlane(n.url, { extraArgs: cpArgs })
    cps.push(cp)
    await cp.process.waitForLog((l) => l.msg === 'connected to NATS', 'control plane on NATS over TLS')
    return cp
  }
  const agent = async (cp: ControlPlaneHandle, args: string[]) => {
    const { process: p } = await startAgent(cp.grpc, { token: await createToken(cp.api), extraArgs: args })
    agents.push(p)
    await p.waitForLog((l) => l.msg === 'connected to control plane', 'connect')
    return p
  }
  const neverOnNats = async (p: OutpostProcess, pattern: RegExp) => {
    await p.waitForLog(
      (l) => l.msg === 'cannot reach NATS; data waits in the outbox',
      'a NATS refusal',
      20_000,
    )
    const refusal = p.logs.find((l) => l.msg === 'cannot reach NATS; data waits in the outbox')
    expect(JSON.stringify(refusal)).toMatch(pattern)
    expect(p.logs.some((l) => l.msg === 'connected to NATS')).toBe(false)
  }

  it('delivers run reports over TLS with the right CA; refuses a wrong CA, an expired certificate and plain text', async () => {
    const n = await natsWithTls('server')
    const cp = await site(n, ['--nats-tls-ca', f('ca.pem')])
    const good = await agent(cp, ['--nats-tls-ca', f('ca.pem')])
    await good.waitForLog((l) => l.msg === 'connected to NATS', 'agent on NATS over TLS')
    const agentId = String(good.logs.find((l) => l.msg === 'agent starting')?.agentId)
    const put = await api(cp.api, 'PUT', '/api/v1/pipelines/tls-runs', {
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name: 'tls-runs' },
      spec: {
        schedule: { every: '1s' },
        source: { type: 'csv', path: f('none-*.csv') },
        sinks: [{ type: 'central', table: 't' }],
      },
    })
    expect(put.status).toBe(201)
    // Run reports travel over NATS: one arriving proves the encrypted path end to end.
    await waitFor('a run report over TLS', async () => {
      const r = await api<{ items: { agentId: string }[] }>(cp.api, 'GET', '/api/v1/runs?pipeline=tls-runs')
      return r.body.items.some((i) => i.agentId === agentId) || undefined
    })

    await neverOnNats(
      await agent(cp, ['--nats-tls-ca', f('other-ca.pem')]),
      /self.signed|unable to (get|verify)|certificate/i,
    )
    await neverOnNats(await agent(cp, []), /certificate|TLS|tls/)

    const expired = await natsWithTls('expired')
    const cpExpired = await startControlPlane(expired.url, { extraArgs: ['--nats-tls-ca', f('ca.pem')] })
    cps.push(cpExpired)
    await cpExpired.process.waitForLog(
      (l) => l.msg === 'cannot reach NATS; retrying',
      'an expired certificate refused',
      20_000,
    )
    expect(
      JSON.stringify(cpExpired.process.logs.find((l) => l.msg === 'cannot reach NATS; retrying')),
    ).toMatch(/expired/i)
  })

  it('with mutual TLS, NATS serves only clients with a certificate its CA signed', async () => {
    const n = await natsWithTls('server', true)
    const withClientCert = [
      '--nats-tls-ca',
      f('ca.pem'),
      '--nats-tls-cert',
      f('client.pem'),
      '--nats-tls-key',
      f('client.key'),
    ]
    const cp = await site(n, withClientCert)
    await neverOnNats(
      await agent(cp, ['--nats-tls-ca', f('ca.pem')]),
      /certificate|closed|ECONNRESET|EPIPE|tls|timeout/i,
    )
    const withCert = await agent(cp, withClientCert)
    await withCert.waitForLog((l) => l.msg === 'connected to NATS', 'agent with a client certificate')
  })
})
