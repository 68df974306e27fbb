import { centralSinkSpec, SinkError } from '@outpost/shared'
import type * as z from 'zod'
import { defineSink } from './types.js'

type CentralSinkOptions = z.output<typeof centralSinkSpec.schema>

/**
 * Rows for the central warehouse are encoded as DataBatches in the worker and delivered over
 * NATS JetStream by the forwarder; the control plane writes them. Nothing is written locally.
 */
export const centralSink = defineSink<CentralSinkOptions>({
  spec: centralSinkSpec,
  delivery: 'central',
  open() {
    return {
      async write() {
        throw new SinkError(
          'central sinks are delivered over NATS by the forwarder, not written by the agent',
          false,
        )
      },
      async close() {},
    }
  },
})
