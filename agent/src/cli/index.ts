/** The CLI pieces, importable without loading the agent runtime (commands load it on demand). */
export {
  agentCommand,
  agentCommands,
  loggerFromFlags,
  parseSize,
  runCommand,
  untilSignal,
} from './agent-commands.js'
export {
  type Command,
  EXIT,
  type NatsTlsFiles,
  natsTlsFiles,
  parseFlags,
  parseLabels,
  runCli,
  UsageError,
} from './command.js'
