/** The release version, reported by agents and shown in the console. */
export const OUTPOST_VERSION = '0.1.0'
