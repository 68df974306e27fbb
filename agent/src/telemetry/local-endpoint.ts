/**
 * The agent's own small HTTP port (off by default; `--metrics-listen 127.0.0.1:9464`):
 * `/metrics` for Prometheus, `/healthz` (the process is alive) and `/readyz` (control plane and
 * NATS reachable, outbox within its disk budget), for the host's monitoring and service manager.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { PromMetrics } from './prometheus.js'

export interface Readiness {
  controlPlane: boolean
  nats: boolean
  outboxWithinBudget: boolean
}

export async function serveLocalEndpoint(
  listen: string,
  prometheus: PromMetrics,
  readiness: () => Readiness,
): Promise<{ server: Server; address: string }> {
  const at = listen.lastIndexOf(':')
  const host = listen.slice(0, at) || '127.0.0.1'
  const port = Number(listen.slice(at + 1))
  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end()
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': prometheus.contentType }).end(await prometheus.metrics())
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
      } else if (path === '/readyz') {
        const checks = readiness()
        const ready = checks.controlPlane && checks.nats && checks.outboxWithinBudget
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: ready ? 'ready' : 'not ready', checks }))
      } else {
        res.writeHead(404).end()
      }
    })().catch(() => res.writeHead(500).end())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const a = server.address() as AddressInfo
  return { server, address: `${a.address}:${a.port}` }
}
