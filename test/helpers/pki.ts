/** Certificate authorities and certificates made by openssl in a temporary directory, for TLS tests. */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export class Pki {
  readonly dir = mkdtempSync(join(tmpdir(), 'outpost-pki-'))

  constructor() {
    writeFileSync(this.file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    writeFileSync(this.file('client.ext'), 'extendedKeyUsage=clientAuth\n')
  }

  /** A file in the directory: `name.pem` is a certificate, `name.key` its key. */
  file(name: string): string {
    return join(this.dir, name)
  }

  /** Runs openssl in the directory; `command` is split on spaces (names here have none). */
  private ssl(command: string): void {
    execFileSync('openssl', command.split(' '), { cwd: this.dir, stdio: 'pipe' })
  }

  /** A self-signed CA valid two days; RSA unless `ec`; with `notCa`, a self-signed leaf instead. */
  ca(name: string, options: { ec?: boolean; notCa?: boolean } = {}): void {
    const key = options.ec ? 'ec -pkeyopt ec_paramgen_curve:P-256' : 'rsa:2048'
    const constraints = `basicConstraints=critical,CA:${options.notCa ? 'FALSE' : 'TRUE'}`
    this.ssl(
      `req -x509 -newkey ${key} -nodes -keyout ${name}.key -out ${name}.pem -days 2 -subj /CN=${name} -addext ${constraints}`,
    )
  }

  /**
   * A certificate `ca` signs, valid `days` (negative: already expired), for a server (127.0.0.1)
   * or a client; its common name is `cn`, by default its file name. Its request stays in `name.csr`.
   */
  sign(name: string, ca: string, days: number, use: 'server' | 'client', cn = name): void {
    this.ssl(`req -newkey rsa:2048 -nodes -keyout ${name}.key -out ${name}.csr -subj /CN=${cn}`)
    this.ssl(
      `x509 -req -in ${name}.csr -CA ${ca}.pem -CAkey ${ca}.key -CAcreateserial -out ${name}.pem -days ${days} -extfile ${use}.ext`,
    )
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}
