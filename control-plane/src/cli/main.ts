/** Entry point of `outpost`: every command, for the control-plane bundle and development. */
import { agentCommands, runCli } from '@outpost/agent/cli'
import {
  agentAdminCommand,
  alertsCommand,
  apiTokenCommand,
  applyCommand,
  auditCommand,
  controlPlaneCommand,
  describeCommand,
  getCommand,
  probeCommand,
  quarantineCommand,
  rolloutCommand,
  tokenCreateCommand,
} from './commands.js'
import { natsAuthInitCommand } from './nats-auth.js'
import { upCommand } from './up.js'

const commands = [
  controlPlaneCommand,
  ...agentCommands,
  tokenCreateCommand,
  applyCommand,
  getCommand,
  describeCommand,
  quarantineCommand,
  probeCommand,
  agentAdminCommand,
  apiTokenCommand,
  auditCommand,
  rolloutCommand,
  alertsCommand,
  natsAuthInitCommand,
  upCommand,
]
const code = await runCli(commands, process.argv.slice(2))
process.exit(code)
