// Client certificates issued at enrolment (--grpc-tls-client-ca-key): an agent with only --tls-ca
// enrols without a certificate, gets one naming it for a key made at the site, and every Sync
// after that needs exactly that certificate: none, another CA's, an expired one or another
// agent's is refused with the reason.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newClientKeyRequest } from '../../agent/src/control/client-key.js'
import { AgentCertificateAuthority } from '../../control-plane/src/grpc/client-certificates.js'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  type ControlPlaneHandle,
  createToken,
  type LogLine,
  type OutpostProcess,
  runCli,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'
import { Pki } from '../helpers/pki.js'

const pki = new Pki()
const f = (name: string) => pki.file(name)
const connected = (l: LogLine) => l.msg === 'connected to control plane'

describe('client certificates issued at enrolment', () => {
  let nats: NatsServer
  let cp: ControlPlaneHandle
  const agents: OutpostProcess[] = []
  beforeAll(async () => {
    pki.ca('ca')
    pki.ca('other-ca')
    pki.sign('server', 'ca', 2, 'server')
    pki.sign('stranger', 'other-ca', 2, 'client')
    nats = await startNats()
    cp = await startControlPlane(nats.url, {
      extraArgs: [
        '--grpc-tls-cert',
        f('server.pem'),
        '--grpc-tls-key',
        f('server.key'),
        '--grpc-tls-client-ca',
        f('ca.pem'),
        '--grpc-tls-client-ca-key',
        f('ca.key'),
      ],
    })
  })
  afterAll(async () => {
    for (const a of agents) await a.stop()
    await cp?.process.stop()
    await nats?.dispose()
    pki.dispose()
  })

  const agent = async (stateDir: string | undefined, args: string[], token?: string) => {
    const started = await startAgent(cp.grpc, {
      ...(token ? { token } : {}),
      ...(stateDir ? { stateDir } : {}),
      extraArgs: ['--tls-ca', f('ca.pem'), ...args],
    })
    agents.push(started.process)
    return started
  }
  const enrolled = async () => {
    const { process: p, stateDir } = await agent(undefined, [], await createToken(cp.api))
    await p.waitForLog(connected, 'connect with the issued certificate')
    const id = String(p.logs.find((l) => l.msg === 'agent starting')?.agentId)
    return { process: p, stateDir, id }
  }
  /** A state directory holding only an enrolled agent's identity (the agent reads it from identity.json). */
  const identityOnly = (stateDir: string) => {
    const copy = mkdtempSync(join(tmpdir(), 'outpost-agent-copy-'))
    copyFileSync(join(stateDir, 'identity.json'), join(copy, 'identity.json'))
    return copy
  }
  const refusedWith = async (args: string[], stateDir: string, reason: RegExp) => {
    const { process: p } = await agent(stateDir, args)
    const refusal = await p.waitForLog((l) => l.msg === 'control plane refused this agent', 'a refusal')
    expect(String(refusal.error)).toMatch(/^UNAUTHENTICATED: /)
    expect(String(refusal.error)).toMatch(reason)
    expect(p.logs.some(connected)).toBe(false)
    await p.stop()
    return refusal
  }

  it('an agent with only --tls-ca gets a certificate naming it, and connects with it, also after a restart', async () => {
    const { process: first, stateDir, id } = await enrolled()
    expect(first.logs.find((l) => l.msg === 'enrolled')?.clientCertificate).toBe(true)

    const certPem = readFileSync(join(stateDir, 'tls-client.pem'))
    const keyPem = readFileSync(join(stateDir, 'tls-client.key'))
    for (const file of ['tls-client.pem', 'tls-client.key'])
      expect(statSync(join(stateDir, file)).mode & 0o777).toBe(0o600)
    const cert = new X509Certificate(certPem)
    const ca = new X509Certificate(readFileSync(f('ca.pem')))
    expect(cert.verify(ca.publicKey)).toBe(true)
    expect(cert.subject).toBe(`CN=${id}`)
    expect(cert.subjectAltName).toBe(`URI:outpost:agent:${id}`)
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2'])
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000
    expect(days).toBeGreaterThan(364)
    expect(days).toBeLessThan(366)
    // The key was made at the site: an ECDSA P-256 key whose public half the certificate carries…
    const key = createPrivateKey(keyPem)
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    expect(cert.checkPrivateKey(key)).toBe(true)
    // …and whose private half the control plane never held: not in its store, nor in its logs.
    const secret = key.export({ format: 'jwk' }).d as string
    const secretBytes = Buffer.from(secret, 'base64url')
    const cpFiles = readdirSync(cp.dataDir, { recursive: true, withFileTypes: true }).filter((e) =>
      e.isFile(),
    )
    expect(cpFiles.length).toBeGreaterThan(0)
    for (const entry of cpFiles)
      expect(readFileSync(join(entry.parentPath, entry.name)).includes(secretBytes)).toBe(false)
    expect(cp.process.output.join('\n')).not.toContain(keyPem.toString().split('\n')[1])

    await first.stop()
    const { process: again } = await agent(stateDir, [])
    await again.waitForLog(connected, 'reconnect with the stored certificate')
    expect(again.logs.some((l) => l.msg === 'enrolled')).toBe(false)
    expect(readFileSync(join(stateDir, 'tls-client.pem'))).toEqual(certPem)
  })

  it('refuses a Sync without a certificate, with another CA’s, with an expired one and with another agent’s', async () => {
    const a = await enrolled()
    const b = await enrolled()

    // Agent A's credential, no certificate (the issued files are not in this copy).
    await refusedWith([], identityOnly(a.stateDir), /no client certificate;/)
    // A certificate for agent A's id from another CA.
    await refusedWith(
      ['--tls-cert', f('stranger.pem'), '--tls-key', f('stranger.key')],
      identityOnly(a.stateDir),
      /not signed by the client CA/,
    )
    // A certificate the client CA signed for agent A, expired.
    pki.sign('expired-a', 'ca', -1, 'client', a.id)
    await refusedWith(
      ['--tls-cert', f('expired-a.pem'), '--tls-key', f('expired-a.key')],
      identityOnly(a.stateDir),
      /expired/,
    )
    // Agent A's own certificate and key, with agent B's credential.
    const refusal = await refusedWith(
      ['--tls-cert', join(a.stateDir, 'tls-client.pem'), '--tls-key', join(a.stateDir, 'tls-client.key')],
      identityOnly(b.stateDir),
      new RegExp(`issued to agent ${a.id}, not to agent ${b.id}`),
    )
    expect(refusal.error).toBeDefined()
    const cpRefusals = cp.process.logs.filter((l) => l.msg === 'agent refused').map((l) => String(l.reason))
    expect(cpRefusals.some((r) => r.includes(`issued to agent ${a.id}, not to agent ${b.id}`))).toBe(true)
    // The real agents stayed connected throughout.
    expect(a.process.child.exitCode).toBeNull()
    expect(b.process.child.exitCode).toBeNull()
  })

  it('refuses to enrol an agent that sends no CSR, without spending the token', async () => {
    pki.sign('operator-issued', 'ca', 2, 'client')
    const token = await createToken(cp.api)
    const { process: p } = await agent(
      undefined,
      ['--tls-cert', f('operator-issued.pem'), '--tls-key', f('operator-issued.key')],
      token,
    )
    const refusal = await p.waitForLog((l) => l.msg === 'enrolment refused; check the token', 'a refusal')
    expect(String(refusal.error)).toMatch(/INVALID_ARGUMENT: .*needs a client_csr/)
    await p.stop()
    const { process: retry } = await agent(undefined, [], token)
    await retry.waitForLog(connected, 'enrol with the same token')
  })

  it('renews a certificate with less than a third of its validity left, for a new key, over the Sync stream', async () => {
    const { process: first, stateDir, id } = await enrolled()
    await first.stop()
    // Put in a certificate of this agent issued 300 of 365 days ago: still valid, due for renewal.
    const authority = await AgentCertificateAuthority.load(
      readFileSync(f('ca.pem')),
      readFileSync(f('ca.key')),
    )
    const old = await newClientKeyRequest()
    const due = await authority.issue(
      await AgentCertificateAuthority.checkCsr(old.csrPem),
      id,
      Date.now() - 300 * 86_400_000,
    )
    writeFileSync(join(stateDir, 'tls-client.pem'), due.pem, { mode: 0o600 })
    writeFileSync(join(stateDir, 'tls-client.key'), old.privateKeyPem, { mode: 0o600 })

    const { process: renewing } = await agent(stateDir, [])
    await renewing.waitForLog(connected, 'connect with the old certificate')
    await renewing.waitForLog((l) => l.msg === 'client certificate renewed', 'a renewal')
    await cp.process.waitForLog(
      (l) => l.msg === 'client certificate renewed' && l.agentId === id,
      'a renewal',
    )
    const renewed = new X509Certificate(readFileSync(join(stateDir, 'tls-client.pem')))
    const newKey = createPrivateKey(readFileSync(join(stateDir, 'tls-client.key')))
    expect(renewed.serialNumber).not.toBe(new X509Certificate(due.pem).serialNumber)
    expect(renewed.checkPrivateKey(newKey)).toBe(true)
    expect(renewed.checkPrivateKey(createPrivateKey(old.privateKeyPem))).toBe(false)
    expect(renewed.subjectAltName).toBe(`URI:outpost:agent:${id}`)
    expect((Date.parse(renewed.validTo) - Date.now()) / 86_400_000).toBeGreaterThan(364)
    for (const file of ['tls-client.pem', 'tls-client.key'])
      expect(statSync(join(stateDir, file)).mode & 0o777).toBe(0o600)

    // Only the new certificate and key are left, and they serve the next start.
    await renewing.stop()
    const { process: after } = await agent(stateDir, [])
    await after.waitForLog(connected, 'connect with the renewed certificate')
    expect(after.logs.some((l) => l.msg === 'client certificate renewed')).toBe(false)
  })

  it('refuses to start with a client CA key that is not the client CA certificate’s', async () => {
    const tls = ['--grpc-tls-cert', f('server.pem'), '--grpc-tls-key', f('server.key')]
    const mismatch = await runCli([
      'control-plane',
      ...tls,
      '--grpc-tls-client-ca',
      f('ca.pem'),
      '--grpc-tls-client-ca-key',
      f('other-ca.key'),
    ])
    expect(mismatch.code).toBe(2)
    expect(mismatch.stderr).toMatch(/--grpc-tls-client-ca-key: .*not the private key of the client CA/)
    const alone = await runCli(['control-plane', ...tls, '--grpc-tls-client-ca-key', f('ca.key')])
    expect(alone.code).toBe(2)
    expect(alone.stderr).toMatch(/--grpc-tls-client-ca-key needs --grpc-tls-client-ca/)
  })
})
