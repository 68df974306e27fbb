import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadAgentConfig } from './config.js'

const dir = mkdtempSync(join(tmpdir(), 'outpost-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describe('agent config file', () => {
  it('reads every setting', () => {
    const path = file(
      'ok.yaml',
      'control_plane: cp.example.com:7400\nstate_dir: /var/lib/outpost/agent\nlabels: { site: berlin }\ndisk_budget: 2GiB\nmax_runs: 3\nnats: [nats://a:4222]\nfile_roots: [/srv/drop]\nmax_row_bytes: 4MiB\nmax_field_bytes: 1048576\nmax_columns: 500\n',
    )
    expect(loadAgentConfig(path)).toEqual({
      control_plane: 'cp.example.com:7400',
      state_dir: '/var/lib/outpost/agent',
      labels: { site: 'berlin' },
      disk_budget: '2GiB',
      max_runs: 3,
      nats: ['nats://a:4222'],
      file_roots: ['/srv/drop'],
      max_row_bytes: '4MiB',
      max_field_bytes: 1048576,
      max_columns: 500,
    })
  })

  it('names the file, the line and the setting that is wrong', () => {
    const path = file('bad.yaml', 'control_plane: cp:7400\nmax_runs: many\ncontrol_plain: typo\n')
    expect(() => loadAgentConfig(path)).toThrow(
      `${path}:2: max_runs: Invalid input: expected number, received string\n${path}: control_plain: unknown setting`,
    )
    expect(() => loadAgentConfig(join(dir, 'missing.yaml'))).toThrow(
      `cannot read config file ${join(dir, 'missing.yaml')}: ENOENT`,
    )
    expect(() => loadAgentConfig(file('yaml.yaml', 'a: [1\n'))).toThrow(/yaml\.yaml:\d+: not valid YAML/)
  })
})
