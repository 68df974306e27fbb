import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { storeContract } from './contract.js'
import { LmdbStore } from './lmdb.js'

storeContract('LMDB', async () => new LmdbStore(mkdtempSync(join(tmpdir(), 'outpost-store-'))))
