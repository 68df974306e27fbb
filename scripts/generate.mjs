#!/usr/bin/env node
// Generates committed code: protobuf (buf → shared/src/gen), the pipeline JSON Schema and the
// pipeline reference (docs/reference/pipeline.md).
// With --check, generates into a temporary directory and fails when the committed files differ.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const check = process.argv.includes('--check')
const bin = (name) => join(root, 'node_modules/.bin', name)
const run = (cmd, args, cwd = root) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] })

const targets = [
  { committed: join(root, 'shared/src/gen'), generate: (out) => generateProto(out) },
  {
    committed: join(root, 'shared/schema'),
    generate: (out) => run(bin('tsx'), ['scripts/gen-schema.ts', out]),
  },
  {
    committed: join(root, 'docs/reference'),
    generate: (out) => run(bin('tsx'), ['scripts/gen-reference.ts', out]),
  },
]

function generateProto(out) {
  run(bin('buf'), ['lint'], join(root, 'proto'))
  const template = {
    version: 'v2',
    clean: true,
    plugins: [{ local: bin('protoc-gen-es'), out, opt: ['target=ts', 'import_extension=js'] }],
  }
  run(bin('buf'), ['generate', '--template', JSON.stringify(template)], join(root, 'proto'))
}

function files(dir) {
  const out = new Map()
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name)
      if (statSync(path).isDirectory()) walk(path)
      else out.set(relative(dir, path), readFileSync(path, 'utf8'))
    }
  }
  try {
    walk(dir)
  } catch {
    // A missing directory compares as empty.
  }
  return out
}

if (!check) {
  for (const t of targets) t.generate(t.committed)
  console.log('generated shared/src/gen, shared/schema and docs/reference')
} else {
  const problems = []
  for (const t of targets) {
    const temp = mkdtempSync(join(tmpdir(), 'outpost-gen-'))
    try {
      t.generate(temp)
      const want = files(temp)
      const have = files(t.committed)
      for (const [name, text] of want)
        if (have.get(name) !== text)
          problems.push(`${relative(root, join(t.committed, name))} is out of date`)
      for (const name of have.keys())
        if (!want.has(name))
          problems.push(`${relative(root, join(t.committed, name))} is not generated any more`)
    } finally {
      rmSync(temp, { recursive: true, force: true })
    }
  }
  if (problems.length > 0) {
    console.error(`generated code drifted (run npm run generate and commit):\n  ${problems.join('\n  ')}`)
    process.exit(1)
  }
  console.log('generated code is up to date')
}
