import * as z from 'zod'
import { defineConnectorSpec } from '../component.js'
import { duration } from '../duration.js'

const path = z
  .string()
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'expected a dotted path such as meta.next_cursor')

const auth = z.discriminatedUnion('type', [
  z
    .strictObject({ type: z.literal('bearer'), token: z.string().min(1).describe('Usually ${secret:NAME}.') })
    .describe('Authorization: Bearer <token>.'),
  z
    .strictObject({ type: z.literal('basic'), username: z.string().min(1), password: z.string() })
    .describe('HTTP basic authentication.'),
  z
    .strictObject({
      type: z.literal('api_key'),
      name: z.string().min(1).describe('Header or query parameter name, e.g. X-API-Key.'),
      value: z.string().min(1),
      in: z.enum(['header', 'query']).default('header'),
    })
    .describe('An API key in a header or a query parameter.'),
  z
    .strictObject({
      type: z.literal('oauth2'),
      token_url: z.string().url(),
      client_id: z.string().min(1),
      client_secret: z.string().min(1),
      scope: z.string().optional(),
    })
    .describe('OAuth2 client credentials: a token from token_url, renewed before it expires or on a 401.'),
])

const pagination = z.discriminatedUnion('type', [
  z
    .strictObject({
      type: z.literal('page'),
      param: z.string().default('page'),
      start: z.number().int().default(1),
      size_param: z.string().optional(),
      size: z.number().int().min(1).optional(),
    })
    .describe('Page numbers: ?page=1, 2, … until a page has no records.'),
  z
    .strictObject({
      type: z.literal('offset'),
      offset_param: z.string().default('offset'),
      limit_param: z.string().default('limit'),
      limit: z.number().int().min(1).default(100),
    })
    .describe('Offset and limit: ?offset=0&limit=100, then offset=100, … until a short page.'),
  z
    .strictObject({
      type: z.literal('cursor'),
      param: z.string().default('cursor'),
      cursor_path: path.describe('Where the body holds the token of the next page.'),
    })
    .describe('A token in the body names the next page.'),
  z
    .strictObject({ type: z.literal('link_header') })
    .describe('The Link header (rel="next") names the next page.'),
  z
    .strictObject({
      type: z.literal('next_url'),
      next_url_path: path.describe('Where the body holds the URL of the next page.'),
    })
    .describe('A URL in the body names the next page.'),
])

export const httpSourceSpec = defineConnectorSpec({
  type: 'http',
  summary:
    'Records from a JSON HTTP API: authentication, pagination, rate limits, retries on 429 and 5xx, and incremental reads by a field.',
  options: {
    url: z.string().url().describe('The first page.'),
    method: z.enum(['GET', 'POST']).default('GET'),
    headers: z.record(z.string(), z.string()).default({}).describe('Headers sent with every request.'),
    query: z.record(z.string(), z.string()).default({}).describe('Query parameters sent with every request.'),
    body: z.unknown().optional().describe('JSON body for POST.'),
    auth: auth.optional().describe('How to authenticate; see the variants below.'),
    records_path: path
      .optional()
      .describe('Where each page holds its array of records; default: the body is the array.'),
    pagination: pagination.optional().describe('How to get the next page; without it, one request per run.'),
    incremental: z
      .strictObject({
        field: path.describe('Field of each record that only grows, e.g. updated_at.'),
        param: z
          .string()
          .min(1)
          .describe('Query parameter that asks for records after a value, e.g. updated_since.'),
        initial: z.string().optional().describe('Value for the first run.'),
      })
      .optional()
      .describe('Each run asks for records after the highest value of `field` the last run committed.'),
    rate_limit: z
      .strictObject({ requests_per_second: z.number().positive() })
      .optional()
      .describe('Spaces requests out to at most this rate.'),
    retries: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(5)
      .describe('Retries of one request on 429, 5xx and network errors (Retry-After is honoured).'),
    timeout: duration.prefault('30s').describe('Per request.'),
    max_pages: z.number().int().min(1).default(10_000).describe('Stop a run after this many pages.'),
    max_response_bytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 ** 3)
      .default(64 * 1024 ** 2)
      .describe('Refuse a response body larger than this (bytes; default 64 MiB): the run fails, naming it.'),
  },
})
