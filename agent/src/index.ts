export { Agent, type AgentOptions, hostFacts } from './agent.js'
export {
  agentCommand,
  agentCommands,
  loggerFromFlags,
  runCommand,
  untilSignal,
} from './cli/agent-commands.js'
export { type Command, EXIT, parseFlags, parseLabels, runCli, UsageError } from './cli/command.js'
export { ControlClient, EnrollmentRefusedError, type SyncHandlers } from './control/client.js'
export { PgTableWriter, pgPool } from './db/postgres.js'
export { createLogger, type LogFormat, type Logger, type LogLevel } from './log.js'
export { runLocal } from './runtime/local-run.js'
export { specHash } from './runtime/pipeline.js'
