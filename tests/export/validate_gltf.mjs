// Usage: node validate_gltf.mjs FILE.glb
// Runs the Khronos glTF validator (installed by scripts/setup_web_checks.sh) and prints its
// issue counts and messages as JSON; exits 1 when it reports any error.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate_gltf.mjs FILE.glb');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, '.deps', 'npm', 'package.json'));
const validator = require('gltf-validator');

const report = await validator.validateBytes(new Uint8Array(await readFile(file)), { maxIssues: 50 });
const issues = report.issues;
console.log(JSON.stringify({
  errors: issues.numErrors,
  warnings: issues.numWarnings,
  infos: issues.numInfos,
  hints: issues.numHints,
  messages: issues.messages.map((m) => `${m.code} ${m.pointer ?? ''}: ${m.message}`),
}));
process.exit(issues.numErrors > 0 ? 1 : 0);
