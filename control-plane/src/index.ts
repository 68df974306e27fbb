export { createApi } from './api/app.js'
export { ControlPlane, type ControlPlaneOptions } from './server.js'
export { LmdbStore } from './store/lmdb.js'
export type * from './store/types.js'
