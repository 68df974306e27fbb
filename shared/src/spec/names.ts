import * as z from 'zod'

/**
 * Pipeline and label names travel in NATS subjects, LMDB keys and file names, so they are kept
 * to lowercase letters, digits, `-` and `_`.
 */
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/

export const resourceName = z
  .string()
  .regex(
    NAME_PATTERN,
    'expected 1-63 lowercase letters, digits, "-" or "_", starting and ending with a letter or digit',
  )

export const labelKey = z
  .string()
  .regex(
    /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$/,
    'expected a label key of letters, digits, ".", "_", "-" or "/"',
  )

export const labelValue = z.string().max(128, 'label values are at most 128 characters')

export const labels = z.record(labelKey, labelValue)
