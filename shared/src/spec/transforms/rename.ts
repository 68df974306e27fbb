import * as z from 'zod'
import { defineTransformSpec } from '../component.js'

export const renameTransformSpec = defineTransformSpec({
  name: 'rename',
  summary: 'Renames columns: { old_name: new_name }.',
  options: z
    .record(z.string().min(1), z.string().min(1))
    .refine((m) => Object.keys(m).length > 0, 'rename needs at least one column'),
})
