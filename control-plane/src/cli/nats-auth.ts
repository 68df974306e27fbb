/** `outpost nats-auth init`: keys and a nats-server configuration for per-agent NATS credentials. */
import { type Command, EXIT, parseFlags, UsageError } from '@outpost/agent/cli'
import { initNatsAuth, NatsAuthError } from '../nats/auth.js'

export const natsAuthInitCommand: Command = {
  name: 'nats-auth init',
  summary: 'Create the NATS operator and account keys for per-agent NATS credentials.',
  usage: `Usage: outpost nats-auth init DIR [--resolver-dir DIR]

Writes DIR/operator.nk, DIR/system.nk and DIR/account.nk (mode 0600; keep them like passwords) and
DIR/server.conf, a nats-server configuration (operator mode, full account resolver) to start
nats-server with (-c DIR/server.conf) or to include from its own. Then start every control-plane
replica with --nats-auth DIR: agents get their own NATS credential, may publish only under their
own subjects, and a revoked agent is cut off by the NATS servers.

  --resolver-dir DIR   where nats-server keeps account JWTs (default DIR/jwt)`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { 'resolver-dir': { type: 'string' } }, true)
    const dir = positionals[0]
    if (!dir || positionals.length > 1) throw new UsageError('give one directory: outpost nats-auth init DIR')
    try {
      const conf = await initNatsAuth(dir, values['resolver-dir'])
      process.stdout.write(
        `NATS keys written to ${dir}\nStart nats-server with: nats-server -js -c ${conf}\nStart the control plane with: --nats-auth ${dir}\n`,
      )
      return EXIT.ok
    } catch (error) {
      if (error instanceof NatsAuthError) throw new UsageError(error.message)
      throw error
    }
  },
}
