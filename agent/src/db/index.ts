/** Database helpers shared by the agent's connectors and the control plane's warehouse. */
export { copyBinary } from './copy-binary.js'
export { copyCell, copyText } from './copy-text.js'
export { batchFileName, encodeParquet } from './parquet.js'
export * from './postgres.js'
