/** Entry point of the agent bundle's `outpost` launcher (agent-side commands only). */
import { agentCommands } from './agent-commands.js'
import { runCli } from './command.js'

const code = await runCli(agentCommands, process.argv.slice(2))
process.exit(code)
