import { commandExists, runPlain } from './measure.js';
import type { ToolName } from './tools/tool.js';

/** Debian packages the bench needs, by the command each provides. */
const PACKAGES: Record<string, string> = { restic: 'restic', borg: 'borgbackup', '/usr/bin/time': 'time' };

/**
 * Make sure GNU time and the peers are installed. As root (a fresh CI-like machine) the missing Debian packages are
 * installed with apt-get; otherwise the bench stops and names the command to run.
 */
export async function ensureTools(tools: readonly ToolName[]): Promise<void> {
  const wanted = ['/usr/bin/time', ...tools.filter((tool) => tool !== 'stowage')];
  const missing: string[] = [];
  for (const command of wanted) if (!(await commandExists(command))) missing.push(PACKAGES[command]!);
  if (missing.length === 0) return;
  const install = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) throw new Error(`missing ${missing.join(', ')}: run \`sudo ${install}\`, or pass --tools stowage`);
  console.log(`installing ${missing.join(', ')} from Debian (${install})`);
  await runPlain('apt-get', ['update', '-qq'], { timeoutMs: 10 * 60 * 1000 });
  await runPlain('apt-get', ['install', '-y', '-qq', ...missing], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
    timeoutMs: 10 * 60 * 1000,
  });
}
