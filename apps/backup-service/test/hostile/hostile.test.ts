/**
 * The hostile-input suite (issue 11): random sequences of API calls by two member projects and an admin, with
 * malformed input and interleavings, against an in-process service; invariants after each step.
 *
 * Knobs (environment): STOWAGE_HOSTILE_SEED, STOWAGE_HOSTILE_PATH (replay a shrunk failure), STOWAGE_HOSTILE_RUNS,
 * STOWAGE_HOSTILE_SECONDS (the time budget), STOWAGE_HOSTILE_ONLY (one invariant fails the run; shrink towards it),
 * STOWAGE_HOSTILE_COLLECT=1 (record the first violation of each invariant and go on: a survey, never green).
 */
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { HostileRun, InvariantViolation, totals } from './hostile-run.js';
import { SCENARIOS } from './hostile-scenarios.js';
import { stepsArb, type Step } from './hostile-steps.js';

const seed = Number(process.env.STOWAGE_HOSTILE_SEED ?? 1111);
const path = process.env.STOWAGE_HOSTILE_PATH;
// Runs, not the time budget, should end the suite: a run cut short on a slow machine explores less than a fast
// one's, and CI once failed on run 24, which no local run had reached. 45 runs (about 2,500 steps) fitted in the
// budget in a fresh-clone CI run on a busy machine; seed 1111's first 341 runs were surveyed clean (COLLECT mode).
const numRuns = Number(process.env.STOWAGE_HOSTILE_RUNS ?? 45);
const budgetSeconds = Number(process.env.STOWAGE_HOSTILE_SECONDS ?? 170);
const only = process.env.STOWAGE_HOSTILE_ONLY;
const collect = process.env.STOWAGE_HOSTILE_COLLECT === '1';
const started = Date.now();

afterAll(() => {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`hostile suite: ${totals.steps} API steps in ${totals.runs} runs, ${totals.errorPaths.size} distinct (route, status, message) error paths, ${seconds} s`);
  for (const [invariant, first] of totals.collected) console.log(`collected ${invariant} x${first.count}: first in run ${first.run} at step ${first.stepIndex}: ${first.detail.slice(0, 500)}`);
  if (process.env.STOWAGE_HOSTILE_PATHS === '1') console.log([...totals.errorPaths].sort().join('\n'));
});

function replayCommand(failingSeed: number, failingPath: string | undefined): string {
  const env = [`STOWAGE_HOSTILE_SEED=${failingSeed}`, failingPath ? `STOWAGE_HOSTILE_PATH=${failingPath}` : '', only ? `STOWAGE_HOSTILE_ONLY=${only}` : ''].filter(Boolean).join(' ');
  return `${env} pnpm --filter @stowage/backup-service exec vitest run test/hostile`;
}

describe('hostile input', () => {
  it('keeps every invariant under random sequences of API calls', async () => {
    const property = fc.asyncProperty(stepsArb(50, 110), async (steps: Step[]) => {
      await new HostileRun({ only, collect }).execute(steps);
    });
    const details = await fc.check(property, {
      seed,
      numRuns,
      ...(path === undefined ? {} : { path }),
      interruptAfterTimeLimit: budgetSeconds * 1000,
      markInterruptAsFailure: false,
      examples: SCENARIOS.map((steps): [Step[]] => [steps]),
    });
    if (details.interrupted) console.log(`hostile suite: the ${budgetSeconds} s budget stopped it after ${details.numRuns} of ${numRuns} runs (a slow or busy machine explores less)`);
    if (collect && totals.collected.size > 0) throw new Error(`hostile survey: ${[...totals.collected.keys()].join(', ')} broken (see the log)`);
    if (!details.failed) return;
    const error = details.errorInstance;
    const violation = error instanceof InvariantViolation ? error : undefined;
    const steps = details.counterexample?.[0] ?? [];
    const shown = violation ? steps.slice(0, violation.stepIndex + 1) : steps;
    throw new Error(
      [
        `hostile suite failed: ${error instanceof Error ? error.message : String(error)}`,
        `seed ${details.seed}, path ${details.counterexamplePath ?? '-'}, after ${details.numShrinks} shrinks`,
        `steps (up to the failing one, ${shown.length} of ${steps.length}):`,
        ...shown.map((step, index) => `  ${index}: ${fc.stringify(step)}`),
        `replay: ${replayCommand(details.seed, details.counterexamplePath ?? undefined)}`,
      ].join('\n'),
      { cause: error },
    );
  }, (budgetSeconds + 240) * 1000);
});
