/**
 * Many agents at the protocol level: each a real gRPC Enroll and, when connected, a real Sync
 * stream (hello, heartbeats), multiplexed over a few HTTP/2 connections, against a real control
 * plane. For tests that need thousands of agents, where real agent processes would not fit.
 */
import { create } from '@bufbuild/protobuf'
import * as grpc from '@grpc/grpc-js'
import {
  AgentService,
  AgentStatusSchema,
  HeartbeatSchema,
  HelloSchema,
  HostFactsSchema,
  type SyncRequest,
  SyncRequestSchema,
  type SyncResponse,
} from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import { createClient, type ServiceClient } from '@outpost/shared/rpc'
import { createToken } from './outpost.js'

export interface SimulatedAgent {
  id: string
  name: string
  credential: string
  call?: grpc.ClientDuplexStream<SyncRequest, SyncResponse>
}

const host = create(HostFactsSchema, {
  hostname: 'sim',
  os: 'linux',
  arch: 'x64',
  runtimeVersion: 'sim',
  cpus: 1,
})

export class SimulatedFleet {
  readonly agents: SimulatedAgent[] = []
  private readonly clients: ServiceClient<typeof AgentService.method>[]
  private readonly timers: NodeJS.Timeout[] = []

  constructor(grpcAddress: string, connections = 8) {
    this.clients = Array.from({ length: connections }, () =>
      createClient(AgentService, grpcAddress, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      }),
    ) as never
  }

  private client(i: number): ServiceClient<typeof AgentService.method> {
    return this.clients[i % this.clients.length] as ServiceClient<typeof AgentService.method>
  }

  /** Enrols `count` agents, `concurrency` at a time; `describe(i)` names and labels the i-th. */
  async enroll(
    apiBase: string,
    count: number,
    describe: (i: number) => { name: string; labels: Record<string, string> },
    concurrency = 100,
  ): Promise<void> {
    const token = await createToken(apiBase, { maxUses: count, ttl: '1h' })
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++
          const { name, labels } = describe(i)
          const r = await this.client(i).enroll(
            {
              $typeName: 'outpost.agent.v1.EnrollRequest',
              token,
              name,
              labels,
              agentVersion: 'sim',
              host,
            } as never,
            new grpc.Metadata(),
            { deadline: Date.now() + 60_000 },
          )
          this.agents.push({ id: r.agentId, name, credential: r.credential })
        }
      }),
    )
  }

  /** Opens the Sync stream of each agent given and sends a heartbeat; resolves once each is welcomed. */
  connect(agents: SimulatedAgent[]): Promise<void> {
    return Promise.all(
      agents.map(
        (a, i) =>
          new Promise<void>((welcomed) => {
            const metadata = new grpc.Metadata()
            metadata.set('authorization', `Bearer ${a.credential}`)
            metadata.set('x-outpost-agent-id', a.id)
            const call = this.client(i).sync(metadata) as grpc.ClientDuplexStream<SyncRequest, SyncResponse>
            a.call = call
            call.on('error', () => {})
            const heartbeat = () =>
              call.write(
                create(SyncRequestSchema, {
                  message: {
                    case: 'heartbeat',
                    value: create(HeartbeatSchema, {
                      sentAtMs: BigInt(Date.now()),
                      status: create(AgentStatusSchema, { natsConnected: true }),
                    }),
                  },
                }),
              )
            call.on('data', (m: SyncResponse) => {
              if (m.message.case !== 'welcome') return
              heartbeat()
              // As often as the control plane asks, or it takes the agent for gone.
              const every = Number(m.message.value.heartbeatIntervalMs) || 10_000
              this.timers.push(setInterval(heartbeat, every))
              welcomed()
            })
            call.write(
              create(SyncRequestSchema, {
                message: { case: 'hello', value: create(HelloSchema, { agentVersion: 'sim', host }) },
              }),
            )
          }),
      ),
    ).then(() => undefined)
  }

  close(): void {
    for (const t of this.timers) clearInterval(t)
    for (const a of this.agents) a.call?.cancel()
    for (const c of this.clients) c.close()
  }
}
