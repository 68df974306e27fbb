import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase, type TestDatabase } from '../../../test/helpers/postgres.js'
import { storeContract } from './contract.js'
import { PostgresStore } from './postgres.js'

const databases: TestDatabase[] = []
afterAll(async () => {
  for (const db of databases) await db.drop()
})

storeContract('PostgreSQL', async () => {
  const db = await createDatabase('outpost_store')
  databases.push(db)
  return PostgresStore.open(db.url)
})

describe('PostgreSQL store leadership', () => {
  it('makes exactly one replica the leader, even when it asks many times at once', async () => {
    const db = await createDatabase('outpost_leader')
    databases.push(db)
    const a = await PostgresStore.open(db.url)
    const b = await PostgresStore.open(db.url)
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => a.isLeader()),
      ...Array.from({ length: 5 }, () => b.isLeader()),
    ])
    expect(answers.slice(0, 5).every((x) => x === answers[0])).toBe(true)
    expect(answers.slice(5).every((x) => x === answers[5])).toBe(true)
    expect(answers.filter(Boolean).length).toBe(5)
    // Whoever leads, the other takes over when it goes away.
    const [leader, follower] = answers[0] ? [a, b] : [b, a]
    await leader.close()
    expect(await follower.isLeader()).toBe(true)
    await follower.close()
  })
})
