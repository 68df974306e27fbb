import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createLogger } from '@outpost/agent'
import { SMTPServer } from 'smtp-server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ControlPlaneContext } from '../context.js'
import { testContext } from '../test-context.js'
import { AlertManager, chatNotifier, emailNotifier } from './alerts.js'

const log = createLogger({ level: 'error', write: () => {} })
/** Mail bodies arrive quoted-printable. */
const qp = (s: string) =>
  s
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))

describe('alert notifications by e-mail and chat', () => {
  let ctx: ControlPlaneContext & { close(): Promise<void> }
  let smtp: SMTPServer
  let chat: Server
  const mails: { from: string; to: string[]; data: string; user: string | undefined }[] = []
  const posts: { text: string }[] = []
  let refuseFirstMail = true
  beforeEach(async () => {
    ctx = testContext()
    mails.length = 0
    posts.length = 0
    smtp = new SMTPServer({
      authOptional: false,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      onAuth(auth, _session, done) {
        if (auth.username === 'alerts' && auth.password === 'pw') done(null, { user: 'alerts' })
        else done(new Error('bad credentials'))
      },
      onData(stream, session, done) {
        let data = ''
        stream.on('data', (d: Buffer) => (data += d.toString()))
        stream.on('end', () => {
          // The first message is refused for a moment: the notifier must send it again.
          if (refuseFirstMail) {
            refuseFirstMail = false
            return done(Object.assign(new Error('try again later'), { responseCode: 451 }))
          }
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data: qp(data),
            user: session.user as string | undefined,
          })
          done()
        })
      },
    })
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r))
    chat = createServer((req, res) => {
      let raw = ''
      req.on('data', (d) => (raw += d))
      req.on('end', () => {
        posts.push(JSON.parse(raw) as { text: string })
        res.writeHead(200).end('ok')
      })
    })
    await new Promise<void>((r) => chat.listen(0, '127.0.0.1', r))
  })
  afterEach(async () => {
    await new Promise<void>((r) => smtp.close(() => r()))
    chat.close()
    await ctx.close()
  })

  it('mails and posts an alert with what, where and a console link, retrying a refused delivery', async () => {
    const smtpPort = (smtp.server.address() as AddressInfo).port
    const chatUrl = `http://127.0.0.1:${(chat.address() as AddressInfo).port}/hooks/ops`
    const consoleUrl = 'https://outpost.example.com/'
    const alerts = new AlertManager(ctx.store, ctx.events, ctx.audit, log, [
      await emailNotifier(
        {
          smtpUrl: `smtp://alerts:pw@127.0.0.1:${smtpPort}?ignoreTLS=true`,
          from: 'outpost@example.com',
          to: ['ops@example.com', 'site-lead@example.com'],
          consoleUrl,
        },
        log,
        { firstDelayMs: 50 },
      ),
      chatNotifier(chatUrl, consoleUrl, log, { firstDelayMs: 50 }),
    ])
    await ctx.store.putAgent({
      id: 'agt-berlin',
      name: 'store-berlin',
      labels: {},
      credentialHash: 'x',
      tokenId: 't',
      enrolledAt: 1,
      agentVersion: '0',
      connected: false,
      lastSeenAt: Date.now() - 3_600_000,
      applied: [],
    })
    await alerts.evaluate()
    await expect.poll(() => mails.length, { timeout: 5000 }).toBe(1)
    const mail = mails[0]!
    expect(mail).toMatchObject({
      from: 'outpost@example.com',
      to: ['ops@example.com', 'site-lead@example.com'],
      user: 'alerts',
    })
    expect(mail.data).toContain('Subject: [Outpost] FIRING critical: agent_offline (agent agt-berlin)')
    expect(mail.data).toContain('agent store-berlin (agt-berlin) is offline; last seen')
    const alert = (await ctx.store.listAlerts({ state: 'firing' }))[0]!
    expect(mail.data).toContain(`Console: https://outpost.example.com/#alert=${alert.id}`)
    await expect.poll(() => posts.length).toBe(1)
    expect(posts[0]?.text).toMatch(
      /^:red_circle: \*\[Outpost\] FIRING critical: agent_offline \(agent agt-berlin\)\*\nagent store-berlin/,
    )

    await alerts.acknowledge(alert.id, 'token:ops', 'power cut')
    await expect.poll(() => posts.length).toBe(2)
    expect(posts[1]?.text).toContain('acknowledged by token:ops: power cut')
    await expect.poll(() => mails.length).toBe(2)
    expect(mails[1]?.data).toContain('Subject: [Outpost] ACKNOWLEDGED critical: agent_offline')
  })
})
