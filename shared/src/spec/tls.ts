import * as z from 'zod'

/** TLS to a database or API at the site. Files are read on the agent. */
export const tlsOptions = z
  .strictObject({
    ca_file: z
      .string()
      .optional()
      .describe('PEM file of the certificate authority to trust (default: the system store).'),
    reject_unauthorized: z
      .boolean()
      .default(true)
      .describe('Refuse servers whose certificate does not verify.'),
  })
  .describe('Use TLS; without this block the connection string decides (e.g. sslmode=require).')

export const connectionUrl = z
  .string()
  .min(1)
  .describe(
    'Connection URL, usually a secret reference such as ${secret:POS_DB_URL}, resolved only on the agent.',
  )
