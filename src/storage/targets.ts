// Builds the enabled targets from the configuration, in the fixed order
// local, secondary, cloud (push, prune and list all walk them in this order).
import type { Config } from '../config/keys.ts';
import type { Reporter } from '../ports/reporter.ts';
import { DirectoryTarget } from './directory-target.ts';
import { Rclone } from './rclone.ts';
import { RcloneTarget } from './rclone-target.ts';
import type { Target } from './target.ts';

export interface CreateTargetsDeps {
  reporter: Reporter;
  /** Environment of rclone (tests configure remotes through RCLONE_CONFIG_* variables). */
  env?: NodeJS.ProcessEnv;
  /** First retry delay of rclone, ms. */
  rcloneBackoffMs?: number;
}

export function createTargets(config: Config, { reporter, env = process.env, rcloneBackoffMs }: CreateTargetsDeps): Target[] {
  const targets: Target[] = [
    new DirectoryTarget({ kind: 'local', path: config.BACKUP_PATH, critical: true, failureCode: 'LOCAL_STORAGE', create: true, key: 'BACKUP_PATH' }),
  ];
  if (config.SECONDARY_ENABLED) {
    targets.push(
      new DirectoryTarget({
        kind: 'secondary',
        path: config.SECONDARY_PATH,
        critical: false,
        failureCode: 'TARGET',
        create: false,
        key: 'SECONDARY_PATH',
        requireMount: config.SECONDARY_REQUIRE_MOUNT,
        probeTimeoutMs: config.SECONDARY_PROBE_TIMEOUT * 1000,
        env,
      }),
    );
  }
  if (config.CLOUD_ENABLED) {
    const rclone = new Rclone({
      configPath: config.RCLONE_CONFIG,
      connectTimeoutS: config.RCLONE_TIMEOUT_CONNECTION,
      operationTimeoutS: config.RCLONE_TIMEOUT_OPERATION,
      retries: config.RCLONE_RETRIES,
      bandwidthLimit: config.RCLONE_BANDWIDTH_LIMIT,
      flags: config.RCLONE_FLAGS,
      env,
      reporter,
      ...(rcloneBackoffMs === undefined ? {} : { backoffMs: rcloneBackoffMs }),
    });
    targets.push(
      new RcloneTarget({
        rclone,
        remote: config.CLOUD_REMOTE,
        remotePath: config.CLOUD_REMOTE_PATH,
        critical: config.CLOUD_REQUIRED,
        verifyDownload: config.CLOUD_VERIFY_DOWNLOAD,
      }),
    );
  }
  return targets;
}
