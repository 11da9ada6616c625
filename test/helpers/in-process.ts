// Shorthand for the restore tests: runCli (in-process through main) with an
// environment, and a numeric exit code.
import { runCli } from './cli.ts';

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(argv: string[], env: NodeJS.ProcessEnv): Promise<InProcessResult> {
  const r = await runCli(argv, { env });
  return { ...r, code: r.code ?? -1 };
}
