// Writes the pipeline spec's JSON Schema (for editors and docs), generated from the zod schema.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pipelineSchema } from '@outpost/shared'
import * as z from 'zod'

const outDir = process.argv[2] ?? 'shared/schema'
mkdirSync(outDir, { recursive: true })
const schema = z.toJSONSchema(pipelineSchema, {
  io: 'input',
  target: 'draft-2020-12',
  unrepresentable: 'any',
})
const document = {
  $id: 'https://outpost.dev/schema/pipeline.schema.json',
  title: 'Outpost pipeline',
  ...schema,
}
writeFileSync(join(outDir, 'pipeline.schema.json'), `${JSON.stringify(document, null, 2)}\n`)
