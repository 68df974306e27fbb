/**
 * The client CA the control plane signs agents' TLS client certificates with at enrolment, and
 * the check that a Sync stream's certificate is one of those, still valid, issued to the agent the
 * stream authenticates as. node:crypto reads and verifies certificates but cannot make one, so
 * CSRs are read and certificates made with @peculiar/x509 (on Node's WebCrypto).
 */
import 'reflect-metadata'
import { createPrivateKey, type KeyObject, X509Certificate as NodeCertificate, webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

/** How long a certificate issued at enrolment is valid. */
export const AGENT_CERTIFICATE_DAYS = 365
/** Certificates start this much in the past, so an agent whose clock is a little behind accepts them. */
const CLOCK_SKEW_MS = 5 * 60_000
const MAX_CSR_CHARS = 16 * 1024
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

export type Pkcs10CertificateRequest = x509.Pkcs10CertificateRequest

/** The URI subject alternative name that names an agent in its client certificate. */
export const agentUri = (agentId: string): string => `outpost:agent:${agentId}`

/** The client CA's certificate or key cannot be used. */
export class ClientCaError extends Error {
  override name = 'ClientCaError'
}

/** A certificate signing request the control plane will not sign; the message names what is wrong. */
export class CsrError extends Error {
  override name = 'CsrError'
}

export interface IssuedCertificate {
  pem: string
  serialNumber: string
  notAfter: Date
}

type SigningAlgorithm = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams

function signingAlgorithm(key: KeyObject): {
  importAs: SigningAlgorithm
  sign: webcrypto.Algorithm | webcrypto.EcdsaParams
} {
  if (key.asymmetricKeyType === 'rsa') {
    const rsa = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
    return { importAs: rsa, sign: rsa }
  }
  const curves: Record<string, [string, string]> = {
    prime256v1: ['P-256', 'SHA-256'],
    secp384r1: ['P-384', 'SHA-384'],
    secp521r1: ['P-521', 'SHA-512'],
  }
  const curve = curves[key.asymmetricKeyDetails?.namedCurve ?? '']
  if (key.asymmetricKeyType === 'ec' && curve)
    return { importAs: { name: 'ECDSA', namedCurve: curve[0] }, sign: { name: 'ECDSA', hash: curve[1] } }
  throw new ClientCaError(
    `the client CA key is ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}; use RSA or ECDSA (P-256, P-384, P-521)`,
  )
}

/** The agent a certificate names: its `outpost:agent:<id>` URI SAN, else its common name. */
export function certificateAgentId(cert: NodeCertificate): string | undefined {
  const prefix = `URI:${agentUri('')}`
  const uri = cert.subjectAltName?.split(', ').find((name) => name.startsWith(prefix))
  if (uri) return uri.slice(prefix.length)
  return /^CN=(.*)$/m.exec(cert.subject)?.[1]
}

export class AgentCertificateAuthority {
  private constructor(
    private readonly caCertificate: NodeCertificate,
    private readonly issuer: x509.Name,
    private readonly signingKey: webcrypto.CryptoKey,
    private readonly algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams,
  ) {}

  /** The CA certificate (PEM; the first one when it is a bundle) and its private key. */
  static async load(caPem: Buffer, keyPem: Buffer): Promise<AgentCertificateAuthority> {
    let ca: NodeCertificate
    try {
      ca = new NodeCertificate(caPem)
    } catch (error) {
      throw new ClientCaError(`the client CA is not a PEM certificate (${(error as Error).message})`)
    }
    if (!ca.ca) throw new ClientCaError(`the client CA certificate (${ca.subject}) is not a CA certificate`)
    let key: KeyObject
    try {
      key = createPrivateKey(keyPem)
    } catch (error) {
      throw new ClientCaError(
        `the client CA key is not an unencrypted PEM private key (${(error as Error).message})`,
      )
    }
    if (!ca.checkPrivateKey(key))
      throw new ClientCaError('the client CA key is not the private key of the client CA certificate')
    const { importAs, sign } = signingAlgorithm(key)
    const signingKey = await webcrypto.subtle.importKey(
      'pkcs8',
      key.export({ format: 'der', type: 'pkcs8' }),
      importAs,
      false,
      ['sign'],
    )
    return new AgentCertificateAuthority(ca, new x509.X509Certificate(ca.raw).subjectName, signingKey, sign)
  }

  /** Reads a CSR and checks it: PEM PKCS#10, an ECDSA P-256 key, signed by that key. */
  static async checkCsr(pem: string): Promise<x509.Pkcs10CertificateRequest> {
    if (pem.length > MAX_CSR_CHARS) throw new CsrError(`client_csr is over ${MAX_CSR_CHARS} characters`)
    let csr: x509.Pkcs10CertificateRequest
    try {
      csr = new x509.Pkcs10CertificateRequest(pem)
    } catch (error) {
      throw new CsrError(`client_csr is not a PEM PKCS#10 certificate request (${(error as Error).message})`)
    }
    const key = csr.publicKey.algorithm as webcrypto.EcKeyAlgorithm
    if (key.name !== 'ECDSA' || key.namedCurve !== 'P-256')
      throw new CsrError(`client_csr has a ${key.name} ${key.namedCurve ?? ''} key; it must be ECDSA P-256`)
    if (!(await csr.verify().catch(() => false)))
      throw new CsrError('client_csr is not signed by the key it carries')
    return csr
  }

  /** Signs a client certificate for the CSR's key that names the agent (CN and URI SAN). */
  async issue(
    csr: x509.Pkcs10CertificateRequest,
    agentId: string,
    now = Date.now(),
  ): Promise<IssuedCertificate> {
    const caCertificate = new x509.X509Certificate(this.caCertificate.raw)
    const notAfter = new Date(now + AGENT_CERTIFICATE_DAYS * 86_400_000)
    const serial = new Uint8Array(webcrypto.getRandomValues(new Uint8Array(16)))
    serial[0] = (serial[0] ?? 0) & 0x7f // a positive INTEGER
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: Buffer.from(serial).toString('hex'),
      subject: `CN=${agentId}`,
      issuer: this.issuer,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter,
      publicKey: csr.publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: this.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: agentUri(agentId) }]),
        await x509.AuthorityKeyIdentifierExtension.create(caCertificate),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      ],
    })
    return { pem: cert.toString('pem'), serialNumber: cert.serialNumber, notAfter }
  }

  /**
   * Why a Sync stream's client certificate (DER, as TLS verified it) does not prove it is agent
   * `agentId`; undefined when it does.
   */
  refusal(raw: Buffer | undefined, agentId: string, now = Date.now()): string | undefined {
    if (!raw) return 'no client certificate'
    let cert: NodeCertificate
    try {
      cert = new NodeCertificate(raw)
    } catch {
      return 'the client certificate cannot be read'
    }
    if (!cert.checkIssued(this.caCertificate) || !cert.verify(this.caCertificate.publicKey))
      return 'the client certificate is not signed by the client CA'
    if (Date.parse(cert.validTo) < now) return `the client certificate expired on ${cert.validTo}`
    if (Date.parse(cert.validFrom) > now) return `the client certificate is valid only from ${cert.validFrom}`
    if (cert.keyUsage && !cert.keyUsage.includes(CLIENT_AUTH))
      return 'the client certificate is not for client authentication'
    const holder = certificateAgentId(cert)
    if (holder !== agentId)
      return `the client certificate was issued to ${holder ? `agent ${holder}` : 'no agent'}, not to agent ${agentId}`
    return undefined
  }
}
