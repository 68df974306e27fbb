import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newClientKeyRequest } from '../../../agent/src/control/client-key.js'
import { Pki } from '../../../test/helpers/pki.js'
import { AgentCertificateAuthority, ClientCaError, CsrError } from './client-certificates.js'

const pki = new Pki()
const read = (name: string) => readFileSync(pki.file(name))

beforeAll(() => {
  pki.ca('ca', { ec: true })
  pki.ca('leaf', { ec: true, notCa: true })
  pki.sign('rsa', 'ca', 2, 'client')
})
afterAll(() => pki.dispose())

describe('AgentCertificateAuthority', () => {
  it('signs a CSR made at the site into a client certificate naming the agent', async () => {
    const authority = await AgentCertificateAuthority.load(read('ca.pem'), read('ca.key'))
    const request = await newClientKeyRequest()
    expect(request.csrPem).not.toContain('PRIVATE KEY')
    const issued = await authority.issue(await AgentCertificateAuthority.checkCsr(request.csrPem), 'agt-one')
    const cert = new X509Certificate(issued.pem)
    expect(cert.verify(new X509Certificate(read('ca.pem')).publicKey)).toBe(true)
    expect(cert.subjectAltName).toBe('URI:outpost:agent:agt-one')
    expect(cert.ca).toBe(false)
    expect(authority.refusal(cert.raw, 'agt-one')).toBeUndefined()
    expect(authority.refusal(cert.raw, 'agt-two')).toBe(
      'the client certificate was issued to agent agt-one, not to agent agt-two',
    )
    expect(authority.refusal(cert.raw, 'agt-one', Date.parse(cert.validTo) + 1000)).toMatch(/expired on/)
    expect(authority.refusal(new X509Certificate(read('leaf.pem')).raw, 'agt-one')).toBe(
      'the client certificate is not signed by the client CA',
    )
    expect(authority.refusal(undefined, 'agt-one')).toBe('no client certificate')
  })

  it('refuses CSRs that are not PKCS#10, not ECDSA P-256, or not signed by their key', async () => {
    await expect(AgentCertificateAuthority.checkCsr('hello')).rejects.toThrow(CsrError)
    await expect(AgentCertificateAuthority.checkCsr('hello')).rejects.toThrow(/not a PEM PKCS#10/)
    await expect(AgentCertificateAuthority.checkCsr(read('rsa.csr').toString())).rejects.toThrow(
      /RSASSA-PKCS1-v1_5 .*must be ECDSA P-256/,
    )
    // Another key's signature over the same request: the last bytes of the signature changed.
    const { csrPem } = await newClientKeyRequest()
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
    der[der.length - 3] = (der[der.length - 3] ?? 0) ^ 0xff
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`
    await expect(AgentCertificateAuthority.checkCsr(tampered)).rejects.toThrow(/not signed by the key/)
    await expect(AgentCertificateAuthority.checkCsr('x'.repeat(20_000))).rejects.toThrow(/over 16384/)
  })

  it('refuses a CA that is no CA, a key that is not its own, and a key that is not PEM', async () => {
    await expect(AgentCertificateAuthority.load(read('leaf.pem'), read('leaf.key'))).rejects.toThrow(
      /is not a CA certificate/,
    )
    await expect(AgentCertificateAuthority.load(read('ca.pem'), read('leaf.key'))).rejects.toThrow(
      /not the private key of the client CA certificate/,
    )
    await expect(AgentCertificateAuthority.load(read('ca.pem'), Buffer.from('nope'))).rejects.toThrow(
      ClientCaError,
    )
    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' })
    await expect(AgentCertificateAuthority.load(read('ca.pem'), Buffer.from(ed))).rejects.toThrow(
      /not the private key/,
    )
  })
})
