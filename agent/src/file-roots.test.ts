import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FileRoots, specFilePaths } from './file-roots.js'
import { listFiles } from './sources/files.js'
import type { SkippedInput } from './sources/types.js'

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'outpost-roots-')))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const root = join(dir, 'root')
const outside = join(dir, 'outside')
mkdirSync(join(root, 'in'), { recursive: true })
mkdirSync(outside)
writeFileSync(join(root, 'in', 'a.csv'), 'x\n1\n')
writeFileSync(join(outside, 'secret.csv'), 'x\n2\n')
symlinkSync(join(outside, 'secret.csv'), join(root, 'in', 'link.csv'))
symlinkSync(outside, join(root, 'in', 'dirlink'))
const roots = new FileRoots([root])
const allowed = `allowed roots: ${root}`

describe('file roots', () => {
  it('allows paths and globs inside a root, and refuses others and any ".."', () => {
    expect(roots.refusal('source path', join(root, 'in', '*.csv'))).toBeUndefined()
    expect(roots.refusal('source path', root)).toBeUndefined()
    expect(roots.refusal('source path', join(outside, '*.csv'))).toBe(
      `source path ${join(outside, '*.csv')} is outside the agent's file_roots (${allowed})`,
    )
    expect(roots.refusal('source path', `${root}-sibling/a.csv`)).toMatch(/is outside the agent's file_roots/)
    expect(roots.refusal('source path', `${root}/in/../../outside/secret.csv`)).toBe(
      `source path ${root}/in/../../outside/secret.csv contains "..", which file_roots do not allow (${allowed})`,
    )
    expect(roots.refusal('source path', `${root}/{in,..}/*.csv`)).toMatch(/contains "\.\."/)
  })

  it('resolves symbolic links, also of directories that do not exist yet', async () => {
    expect(await roots.realRefusal('f', join(root, 'in', 'a.csv'))).toBeUndefined()
    expect(await roots.realRefusal('f', join(root, 'new', 'deeper'))).toBeUndefined()
    expect(await roots.realRefusal('source file', join(root, 'in', 'link.csv'))).toBe(
      `source file ${join(root, 'in', 'link.csv')} resolves to ${join(outside, 'secret.csv')} (a symbolic link), outside the agent's file_roots (${allowed})`,
    )
    expect(await roots.realRefusal('file sink path', join(root, 'in', 'dirlink', 'out'))).toMatch(
      /resolves to .*outside\/out \(a symbolic link\), outside/,
    )
  })

  it('accepts a root created after the agent started, behind a symbolic link', async () => {
    mkdirSync(join(dir, 'real-parent'))
    symlinkSync(join(dir, 'real-parent'), join(dir, 'linked-parent'))
    const later = new FileRoots([join(dir, 'linked-parent', 'later')])
    mkdirSync(join(dir, 'real-parent', 'later'))
    writeFileSync(join(dir, 'real-parent', 'later', 'x.csv'), 'x\n')
    expect(await later.realRefusal('f', join(dir, 'linked-parent', 'later', 'x.csv'))).toBeUndefined()
  })

  it('leaves glob matches that lead outside out and reports them; refuses a single such file', async () => {
    const skipped: SkippedInput[] = []
    const files = await listFiles(join(root, 'in', '**', '*.csv'), {
      fileRoots: roots,
      skipped: (s) => skipped.push(s),
    })
    expect(files.map((f) => f.path)).toEqual([join(root, 'in', 'a.csv')])
    expect(skipped.map((s) => [s.source, s.code]).sort()).toEqual([
      [join(root, 'in', 'dirlink', 'secret.csv'), 'outside_file_roots'],
      [join(root, 'in', 'link.csv'), 'outside_file_roots'],
    ])
    await expect(listFiles(join(root, 'in', 'link.csv'), { fileRoots: roots })).rejects.toThrow(
      /resolves to .*secret\.csv \(a symbolic link\)/,
    )
    await expect(listFiles(join(outside, '*.csv'), { fileRoots: roots })).rejects.toThrow(
      /outside the agent's file_roots/,
    )
    // Without roots, everything the agent can open.
    expect(await listFiles(join(root, 'in', 'link.csv'))).toHaveLength(1)
  })

  it('finds every file path of a spec', () => {
    expect(
      specFilePaths({
        source: { type: 'csv', path: '/in/*.csv' },
        transforms: [{ rename: { a: 'b' } }, { lookup: { from: { type: 'csv', path: '/ref/stores.csv' } } }],
        sinks: [{ type: 'central' }, { type: 'file', path: '/out' }],
      }),
    ).toEqual([
      { field: 'spec.source.path (csv source)', path: '/in/*.csv' },
      { field: 'spec.transforms[1].lookup.from.path', path: '/ref/stores.csv' },
      { field: 'spec.sinks[1].path (file sink)', path: '/out' },
    ])
    expect(specFilePaths({ source: { type: 'postgres' }, transforms: [], sinks: [] })).toEqual([])
  })
})
