// Totals the vitest JSON reports of every package into the one line CI reads: "N passed, N failed, N skipped".
// A package that has a test script but wrote no report counts as one failure; no test at all is a failure. So does
// a failure vitest reports outside any test (a failed hook, an unhandled error): the closing line's failed count is
// non-zero whenever the run failed.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

let passed = 0;
let failed = 0;
let skipped = 0;
const lines = [];
for (const group of ['packages', 'apps', 'examples', 'integration', 'bench']) {
  if (!existsSync(group)) continue;
  const folders = group === 'bench' ? ['.'] : readdirSync(group);
  for (const folder of folders) {
    const dir = join(group, folder);
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest) || !JSON.parse(readFileSync(manifest, 'utf8')).scripts?.test) continue;
    const reportPath = join(dir, 'test-results.json');
    if (!existsSync(reportPath)) {
      failed += 1;
      lines.push(`${dir}: no test report (the test command crashed before vitest reported)`);
      continue;
    }
    const report = JSON.parse(readFileSync(reportPath, 'utf8'));
    // A test file that fails to load, or whose hooks failed, reports no failed test of its own: count the file.
    const brokenFiles = report.testResults.filter(
      (file) => file.status === 'failed' && !file.assertionResults.some((test) => test.status === 'failed'),
    ).length;
    let failedHere = report.numFailedTests + brokenFiles;
    // vitest failed the run for a reason outside every file (an unhandled error): one more failure.
    if (report.success === false && failedHere === 0) failedHere = 1;
    const skippedHere = report.numPendingTests + report.numTodoTests;
    passed += report.numPassedTests;
    failed += failedHere;
    skipped += skippedHere;
    lines.push(`${dir}: ${report.numPassedTests} passed, ${failedHere} failed, ${skippedHere} skipped`);
  }
}
// Tempest's own totals (scripts/tempest/run.sh prints "Passed: N", "Failed: N", "Skipped: N"). A run that failed
// without a failed test (crashed, or saw a 500 in Stowage's log) still counts as one failure.
const tempestLog = join('.test-results', 'tempest.log');
if (existsSync(tempestLog)) {
  const text = readFileSync(tempestLog, 'utf8');
  const last = (label) => Number([...text.matchAll(new RegExp(`^${label}: (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0);
  const exitStatus = Number(readFileSync(join('.test-results', 'tempest.status'), 'utf8').trim() || 1);
  let tempestFailed = last('Failed');
  if (exitStatus !== 0 && tempestFailed === 0) tempestFailed = 1;
  passed += last('Passed');
  failed += tempestFailed;
  skipped += last('Skipped');
  lines.push(`tempest: ${last('Passed')} passed, ${tempestFailed} failed, ${last('Skipped')} skipped`);
}
console.log(lines.join('\n'));
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0) process.exit(1);
