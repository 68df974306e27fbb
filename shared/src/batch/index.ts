export * from './columnar.js'
export * from './values.js'
