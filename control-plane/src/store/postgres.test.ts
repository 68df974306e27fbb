import { afterAll } from 'vitest'
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
