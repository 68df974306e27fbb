import { renameTransformSpec } from '@outpost/shared'
import { columnIndex, defineTransform, TransformConfigError } from './types.js'

export const renameTransform = defineTransform<Record<string, string>>({
  spec: renameTransformSpec,
  bind(options, input) {
    const columns = input.map((c) => ({ ...c }))
    for (const [from, to] of Object.entries(options)) {
      columns[columnIndex(input, from, 'rename')]!.name = to
    }
    const seen = new Set<string>()
    for (const c of columns) {
      if (seen.has(c.name)) throw new TransformConfigError(`rename: two columns would be called "${c.name}"`)
      seen.add(c.name)
    }
    return { columns, run: (frame) => ({ ...frame, columns }) }
  },
})
