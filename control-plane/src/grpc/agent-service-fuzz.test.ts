// Fuzzing the gRPC service agents talk to, on a real server: Enroll requests and Sync stream
// messages as random bytes and as mutated valid encodings, sent without the typed client's
// serializer. Each call ends with a status that says why, or succeeds; the control plane keeps
// serving (a real agent still enrols and syncs afterwards) and never crashes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create, fromBinary, type MessageShape, toBinary } from '@bufbuild/protobuf'
import * as grpc from '@grpc/grpc-js'
import { ControlClient, createLogger, hostFacts } from '@outpost/agent'
import {
  AgentStatusSchema,
  ApplyState,
  EnrollRequestSchema,
  SyncRequestSchema,
  SyncResponseSchema,
} from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fuzzBudget, fuzzTimeout, variants } from '../../../test/helpers/fuzz.js'
import type { ControlPlane } from '../server.js'
import { startTestControlPlane } from '../test-context.js'

/** What the control plane logged at error level: a handler that threw. */
const errors: string[] = []
const log = createLogger({ level: 'error', write: (line) => errors.push(line) })
const identity = (b: Buffer) => b
const ENROLL = '/outpost.agent.v1.AgentService/Enroll'
const SYNC = '/outpost.agent.v1.AgentService/Sync'

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', '\u0000', 'x'.repeat(5_000), '🚀', '\uD800', 'oet_nope'),
)
const bigUint = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const bigInt = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
const host = fc.record({
  hostname: text,
  os: text,
  arch: text,
  runtimeVersion: text,
  cpus: fc.nat(),
  memoryBytes: bigUint,
})

type Enroll = MessageShape<typeof EnrollRequestSchema>
const enrollRequest = (token: string) =>
  fc
    .record({ name: text, labels: fc.dictionary(text, text, { maxKeys: 70 }), agentVersion: text, host })
    .map((r) => create(EnrollRequestSchema, { token, ...r }))
const enrollMutation: fc.Arbitrary<(m: Enroll) => void> = text.map((token) => (m: Enroll) => {
  m.token = token
})

type Sync = MessageShape<typeof SyncRequestSchema>
const syncRequest: fc.Arbitrary<Sync> = fc.oneof(
  fc.record({ agentVersion: text, host }).map((hello) =>
    create(SyncRequestSchema, {
      message: {
        case: 'hello',
        value: {
          ...hello,
          applied: {
            revision: 2n ** 63n,
            pipelines: [{ name: '', version: 99, hash: '', state: 7 as ApplyState }],
          },
        },
      },
    }),
  ),
  fc.tuple(fc.nat(), bigUint, bigInt, fc.boolean()).map(([runs, bytes, age, connected]) =>
    create(SyncRequestSchema, {
      message: {
        case: 'heartbeat',
        value: {
          status: create(AgentStatusSchema, {
            runsActive: runs,
            outboxBatches: bytes,
            outboxBytes: bytes,
            outboxOldestAgeMs: age,
            natsConnected: connected,
            diskBudgetBytes: bytes === 0n ? 0n : bytes - 1n,
          }),
        },
      },
    }),
  ),
  fc.tuple(bigUint, fc.array(fc.tuple(text, fc.nat(), text), { maxLength: 3 })).map(([revision, pipelines]) =>
    create(SyncRequestSchema, {
      message: {
        case: 'applied',
        value: {
          revision,
          pipelines: pipelines.map(([name, version, error]) => ({
            name,
            version,
            hash: name,
            state: ApplyState.FAILED,
            error,
          })),
        },
      },
    }),
  ),
  fc.tuple(text, fc.boolean(), text).map(([commandId, ok, resultJson]) =>
    create(SyncRequestSchema, {
      message: { case: 'commandResult', value: { commandId, ok, error: resultJson, resultJson } },
    }),
  ),
)
const syncMutation: fc.Arbitrary<(m: Sync) => void> = fc.constant((m: Sync) => {
  m.message = { case: undefined }
})

/** A unary call with raw bytes; resolves with the status it ended with. */
function rawEnroll(client: grpc.Client, bytes: Uint8Array): Promise<grpc.StatusObject | 'ok'> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(ENROLL, identity, identity, Buffer.from(bytes), new grpc.Metadata(), (error) =>
      resolve(error ? (error as grpc.StatusObject) : 'ok'),
    )
  })
}

let answered = 0

/** A Sync stream sending raw frames; resolves with how the server ended it (or 'open' if it did not). */
function rawSync(
  client: grpc.Client,
  metadata: grpc.Metadata,
  frames: Uint8Array[],
  openMs = 150,
  endOnAnswer = false,
): Promise<grpc.StatusObject | 'open'> {
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(SYNC, identity, identity, metadata)
    const timer = setTimeout(() => {
      call.cancel()
      resolve('open')
    }, openMs)
    // What the server sends back (a welcome, the desired state) must itself decode.
    call.on('data', (bytes: Buffer) => {
      fromBinary(SyncResponseSchema, bytes)
      answered++
      if (endOnAnswer) {
        clearTimeout(timer)
        call.cancel()
        resolve('open')
      }
    })
    call.on('error', () => {})
    call.on('status', (status: grpc.StatusObject) => {
      clearTimeout(timer)
      resolve(status)
    })
    for (const frame of frames) call.write(Buffer.from(frame))
  })
}

describe('gRPC AgentService under fuzzing', () => {
  let cp: ControlPlane
  let dir: string
  let client: grpc.Client
  let agent: { agentId: string; credential: string }
  const auth = () => ({ authorization: `Bearer ${readFileSync(join(dir, 'admin-token'), 'utf8').trim()}` })
  const token = async () => {
    const r = await fetch(`http://127.0.0.1:${cp.httpPort}/api/v1/enrollment-tokens`, {
      method: 'POST',
      body: JSON.stringify({ maxUses: 1000 }),
      headers: { 'content-type': 'application/json', ...auth() },
    })
    return ((await r.json()) as { token: string }).token
  }
  /** A real agent enrols and connects: the server is still serving. */
  const expectServing = async () => {
    const real = new ControlClient(`127.0.0.1:${cp.grpcPort}`, undefined, log, '0.1.0')
    try {
      const enrolled = await real.enroll(await token(), 'after-fuzz', {}, hostFacts())
      expect(enrolled.agentId).toMatch(/^agt-/)
    } finally {
      await real.stop()
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-grpc-fuzz-'))
    cp = await startTestControlPlane(dir, log)
    client = new grpc.Client(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure())
    const real = new ControlClient(`127.0.0.1:${cp.grpcPort}`, undefined, log, '0.1.0')
    agent = await real.enroll(await token(), 'fuzzed', {}, hostFacts())
    await real.stop()
  })
  afterAll(async () => {
    client?.close()
    await cp?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it(
    'answers any Enroll request with a status that says why, or enrols',
    async () => {
      const valid = await token()
      const requests = fc.oneof(
        variants(EnrollRequestSchema, enrollRequest(valid), enrollMutation),
        variants(EnrollRequestSchema, enrollRequest('oet_nope'), enrollMutation),
      )
      await fc.assert(
        fc.asyncProperty(requests, async (bytes) => {
          const status = await rawEnroll(client, bytes)
          if (status === 'ok') return
          expect([grpc.status.INTERNAL, grpc.status.UNAUTHENTICATED, grpc.status.INVALID_ARGUMENT]).toContain(
            status.code,
          )
          expect(status.details.trim()).not.toBe('')
        }),
        fuzzBudget(300, 3),
      )
      await expectServing()
      expect(errors).toEqual([])
    },
    fuzzTimeout(3),
  )

  it(
    'keeps serving after Sync streams of random and mutated messages',
    async () => {
      const metadata = new grpc.Metadata()
      metadata.set('authorization', `Bearer ${agent.credential}`)
      metadata.set('x-outpost-agent-id', agent.agentId)
      await fc.assert(
        fc.asyncProperty(
          fc.array(variants(SyncRequestSchema, syncRequest, syncMutation), { minLength: 1, maxLength: 6 }),
          async (frames) => {
            const status = await rawSync(client, metadata, frames)
            if (status === 'open' || status.code === grpc.status.OK) return
            // A frame that does not decode ends the stream with a reason.
            expect(status.details.trim()).not.toBe('')
          },
        ),
        fuzzBudget(40, 3),
      )
      await expectServing()
      // A valid hello is still answered (given time: a loaded machine may take longer than the
      // 150 ms each fuzzed stream waits), and no handler threw.
      const before = answered
      const hello = create(SyncRequestSchema, {
        message: { case: 'hello', value: { agentVersion: '0.1.0' } },
      })
      await rawSync(client, metadata, [toBinary(SyncRequestSchema, hello)], 5000, true)
      expect(answered).toBeGreaterThan(before)
      expect(errors).toEqual([])
    },
    fuzzTimeout(3),
  )
})
