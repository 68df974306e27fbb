/**
 * The agent's TLS client key, made at the site, and the certificate signing request the control
 * plane signs at enrolment: only the CSR (public key and a signature) leaves the site. node:crypto
 * makes keys but not CSRs, so the CSR is built with @peculiar/x509 on Node's WebCrypto.
 */
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

export interface ClientKeyRequest {
  /** PKCS#8 PEM; stays in the state directory. */
  privateKeyPem: string
  /** PKCS#10 PEM, sent in the enrolment request. */
  csrPem: string
}

/** A new ECDSA P-256 key pair and a CSR signed by it (the control plane ignores the subject). */
export async function newClientKeyRequest(): Promise<ClientKeyRequest> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=outpost-agent',
    keys,
    signingAlgorithm: algorithm,
  })
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)
  return { privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), csrPem: csr.toString('pem') }
}
