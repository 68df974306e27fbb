import { aggregateTransformSpec } from './aggregate.js'
import { castTransformSpec } from './cast.js'
import {
  addMetadataTransformSpec,
  dedupeTransformSpec,
  dropTransformSpec,
  fillTransformSpec,
  maskTransformSpec,
  outliersTransformSpec,
  selectTransformSpec,
  trimTransformSpec,
} from './columns.js'

export { METADATA_FIELDS } from './columns.js'

import { deriveTransformSpec } from './derive.js'
import { filterTransformSpec } from './filter.js'
import { lookupTransformSpec } from './lookup.js'
import { renameTransformSpec } from './rename.js'

export {
  addMetadataTransformSpec,
  aggregateTransformSpec,
  castTransformSpec,
  dedupeTransformSpec,
  deriveTransformSpec,
  dropTransformSpec,
  fillTransformSpec,
  filterTransformSpec,
  lookupTransformSpec,
  maskTransformSpec,
  outliersTransformSpec,
  renameTransformSpec,
  selectTransformSpec,
  trimTransformSpec,
}

/** Every transform, in one explicit list. */
export const transformSpecs = [
  renameTransformSpec,
  selectTransformSpec,
  dropTransformSpec,
  castTransformSpec,
  trimTransformSpec,
  fillTransformSpec,
  filterTransformSpec,
  deriveTransformSpec,
  dedupeTransformSpec,
  lookupTransformSpec,
  aggregateTransformSpec,
  maskTransformSpec,
  addMetadataTransformSpec,
  outliersTransformSpec,
] as const
