import { defineConnectorSpec } from '../component.js'
import { compression, encoding, filePath } from './files.js'

export const ndjsonSourceSpec = defineConnectorSpec({
  type: 'ndjson',
  summary:
    'One JSON object per line; columns are the keys (numbers become float, objects and arrays json). Large files resume mid-file.',
  options: { path: filePath, encoding, compression },
})
