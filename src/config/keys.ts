// Every configuration key proxsave understands: its kind, default, allowed
// values and documentation. configs/backup.env is the human copy of this
// table; test/config/template.test.ts keeps the two in step.
import { COMPRESSION_ALIASES, COMPRESSION_TYPES } from '../archive/resolve-compression.ts';

export type KeyKind =
  | { kind: 'bool' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'enum'; values: readonly string[]; aliases?: Record<string, string> }
  | { kind: 'path' } // absolute or relative to the config file's directory (a leading ~ is refused, not expanded); '' allowed where default is ''
  | { kind: 'string' }
  | { kind: 'list' } // whitespace, comma or newline separated; quoted multi-line blocks allowed
  | { kind: 'globlist' } // a list of globs: as a list, but a comma inside {a,b}, whitespace or a comma inside [...] and a backslash-escaped space, tab or comma stay in their glob; each glob checked
  | { kind: 'pathlist' } // a list of directories, relative ones resolved like paths
  | { kind: 'size'; min: number }; // bytes with optional K/M/G/T suffix (binary), at least min bytes

export interface KeyDef {
  type: KeyKind;
  default: string;
  doc: string;
  section: string;
  secret?: boolean;
  /** Other names accepted for this key (from the proxsave family). */
  aliases?: readonly string[];
}

const bool = { kind: 'bool' } as const;
const path = { kind: 'path' } as const;
const str = { kind: 'string' } as const;
const list = { kind: 'list' } as const;
const globs = { kind: 'globlist' } as const;
const int = (min: number, max: number) => ({ kind: 'int', min, max }) as const;

function toggle(doc: string) {
  return { type: bool, default: 'true', doc, section: 'Collection toggles' } as const;
}

export const KEYS = {
  // Paths
  SYSTEM_ROOT_PREFIX: { type: path, default: '/', section: 'Paths', doc: 'Root of the host to back up. Every collected path and fact probe is read under it (--root overrides).' },
  SNAPSHOT_PATH: { type: path, default: '/var/lib/proxsave/snapshots', section: 'Paths', doc: 'The snapshot git repository (created on first run, mode 0700).' },
  TASKS_PATH: { type: path, default: '', section: 'Paths', doc: "Directory of tasks/*.yaml. Empty means the catalogue shipped with proxsave." },
  BACKUP_PATH: { type: path, default: '/var/lib/proxsave/backup', section: 'Paths', doc: 'Local (primary) target: exported archives are stored here. Its failure is critical.' },
  LOG_PATH: { type: path, default: '/var/log/proxsave', section: 'Paths', doc: 'Directory for run logs and the JSON run report.' },
  LOCK_PATH: { type: path, default: '/run/lock/proxsave', section: 'Paths', doc: 'Directory of the run lock file (proxsave.lock). A second concurrent run exits 16.' },
  LOG_KEEP: { type: int(1, 100000), default: '60', section: 'Paths', doc: 'Run reports kept in LOG_PATH (a .json and a .log per run): the newest LOG_KEEP runs stay, older ones are deleted after each run.' },
  COMMAND_PATH: { type: { kind: 'pathlist' }, default: '', section: 'Paths', doc: 'Directories searched before the system PATH for task commands (stub commands in tests).' },

  // Collection
  COMMAND_TIMEOUT: { type: int(1, 86400), default: '60', section: 'Collection', doc: 'Seconds a task command may run before its whole process group is killed.' },
  COMMAND_CONCURRENCY: { type: int(1, 64), default: '4', section: 'Collection', doc: 'How many task commands run at the same time.' },
  BACKUP_EXCLUDE_PATTERNS: { type: globs, default: '', section: 'Collection', doc: 'Globs matched against host paths; matching files are never collected by any files task. A space in a path is written as in CUSTOM_BACKUP_PATHS (/opt/my\\ app/cache).' },
  CUSTOM_BACKUP_PATHS: { type: globs, default: '', section: 'Collection', doc: 'Extra host paths (files, directories or globs) collected by the custom-paths task. Spaces and commas separate paths; one that is part of a path is written with a backslash or in brackets, quoted or not: /opt/my\\ app and /opt/my[ ]app both name the directory "/opt/my app", /srv/a\\,b and /srv/a[,]b the file "/srv/a,b".' },
  SNAPSHOT_MAX_DELETE_PERCENT: { type: int(0, 100), default: '50', section: 'Collection', doc: 'A snapshot that would delete more than this percentage of the tracked files is refused (exit 9, nothing committed) unless --allow-deletions is given; so is one in which a task that tracked 5 files or more would keep none of them. An unmounted /etc/pve or a wrong --root must never become the newest backup. 100 disables the guard.' },
  MAX_FILE_SIZE: { type: { kind: 'size', min: 1 }, default: '64M', section: 'Collection', doc: 'Files larger than this are skipped with a warning (their previous version is kept), and a command whose output is larger fails (K, M, G suffixes are binary). There is no "no limit": 0 is refused.' },

  // Toggles
  BACKUP_CLUSTER_CONFIG: toggle('PVE cluster filesystem /etc/pve and /var/lib/pve-cluster.'),
  BACKUP_COROSYNC_CONFIG: toggle('/etc/corosync including authkey (secret).'),
  BACKUP_PVE_FIREWALL: toggle('PVE firewall rules (cluster.fw, <vmid>.fw, host.fw).'),
  BACKUP_VM_CONFIGS: toggle('VM and container configurations under /etc/pve/nodes/*/{qemu-server,lxc}.'),
  BACKUP_VZDUMP_CONFIG: toggle('/etc/vzdump.conf.'),
  BACKUP_PVE_JOBS: toggle('Backup, replication and HA listings from pvesh.'),
  BACKUP_DATASTORE_CONFIGS: toggle('PBS datastore.cfg and the datastore listing.'),
  BACKUP_USER_CONFIGS: toggle('PBS/PVE users, tokens and TFA (secrets masked in diffs).'),
  BACKUP_ACL_CONFIG: toggle('PBS acl.cfg and the ACL listing.'),
  BACKUP_SYNC_JOBS: toggle('PBS sync jobs.'),
  BACKUP_VERIFY_JOBS: toggle('PBS verification jobs.'),
  BACKUP_PRUNE_JOBS: toggle('PBS prune jobs.'),
  BACKUP_TAPE_CONFIGS: toggle('PBS tape drives, changers, pools and jobs.'),
  BACKUP_NETWORK_CONFIGS: toggle('/etc/network, systemd .link files, hosts, resolv.conf and ip listings.'),
  BACKUP_SYSTEM_INFO: toggle('System facts: uname, os-release, dpkg -l, services, block devices, mounts.'),
  BACKUP_CRON_JOBS: toggle('/etc/crontab, /etc/cron.d and user crontabs.'),
  BACKUP_APT_SOURCES: toggle('APT sources and keyrings.'),
  BACKUP_ZFS_CONFIG: toggle('/etc/zfs, /etc/hostid and zpool/zfs listings (when ZFS is present).'),
  BACKUP_CEPH_CONFIG: toggle('/etc/ceph and ceph status (when Ceph is present).'),
  BACKUP_SSH_KEYS: toggle('/root/.ssh (secret).'),
  BACKUP_SSL_CERTS: toggle('/etc/ssl, private keys included (secret).'),
  BACKUP_SCRIPT_DIRS: toggle('/usr/local/bin and /usr/local/sbin.'),
  BACKUP_KERNEL_CONFIG: toggle('Kernel command line, modules, modprobe.d, sysctl.d, udev rules, grub defaults.'),
  BACKUP_STORAGE_STACK: toggle('LVM, multipath, iSCSI, mdadm configuration and listings.'),

  // Compression
  COMPRESSION_TYPE: { type: { kind: 'enum', values: COMPRESSION_TYPES, aliases: COMPRESSION_ALIASES }, default: 'zstd', section: 'Compression', doc: 'Archive compression.' },
  COMPRESSION_LEVEL: { type: str, default: '', section: 'Compression', doc: 'Level: gzip/bzip2 1-9, xz/lzma 0-9, zstd 1-22. Empty means the type default (zstd 3, xz 6, gzip 6, bzip2 9).' },
  COMPRESSION_MODE: { type: { kind: 'enum', values: ['fast', 'standard', 'maximum', 'ultra'] }, default: 'standard', section: 'Compression', doc: 'fast = level 1; standard = COMPRESSION_LEVEL; maximum = zstd 19, others 9 (xz --extreme); ultra = zstd 22 --ultra, others 9 (xz --extreme).' },
  COMPRESSION_THREADS: { type: int(0, 256), default: '0', section: 'Compression', doc: 'Compressor threads; 0 means all cores.' },
  COMPRESSION_ENGINE: { type: { kind: 'enum', values: ['auto', 'cli', 'library'] }, default: 'auto', section: 'Compression', doc: 'auto uses the system compressor CLI when installed (faster), else the in-process library.' },
  ENCRYPT_ARCHIVE: { type: bool, default: 'false', section: 'Encryption', doc: 'Encrypt each archive with age as it is written (<name>.tar.<ext>.age); sidecars stay plaintext (the sha256 is of the encrypted file). Needs AGE_RECIPIENT or AGE_RECIPIENT_FILE.' },
  AGE_RECIPIENT: { type: list, default: '', section: 'Encryption', doc: 'age recipients (public keys): X25519 age1… keys; ssh-ed25519/ssh-rsa keys need the age program. Several may be given.' },
  AGE_RECIPIENT_FILE: { type: path, default: '', section: 'Encryption', doc: 'File of age recipients, one per line (# comments), added to AGE_RECIPIENT.' },
  AGE_IDENTITY_FILE: { type: path, default: '', section: 'Encryption', doc: 'age identity (private key) file for restore and verify of .age archives; with it, export also reads back what it wrote. Keep it off the host if the backups must stay secret from it.' },
  AGE_ENGINE: { type: { kind: 'enum', values: ['auto', 'cli', 'library'] }, default: 'auto', section: 'Encryption', doc: 'auto uses the age program when installed (about 6x faster here), else the in-process age-encryption library.' },

  // Secondary target
  SECONDARY_ENABLED: { type: bool, default: 'false', section: 'Secondary target', doc: 'Copy archives to a second directory (often an NFS/CIFS mount).' },
  SECONDARY_PATH: { type: path, default: '', section: 'Secondary target', doc: 'Secondary directory. It must exist at run time; proxsave never creates it.' },
  SECONDARY_PROBE_TIMEOUT: { type: int(1, 600), default: '15', section: 'Secondary target', doc: 'Seconds a separate process may take to stat SECONDARY_PATH before the target is declared unresponsive (a dead NFS/CIFS mount hangs every access instead of failing).' },
  SECONDARY_REQUIRE_MOUNT: { type: bool, default: 'false', section: 'Secondary target', doc: 'Refuse SECONDARY_PATH unless it is a mount point, so a dead mount never fills the root disk.' },

  // Cloud target
  CLOUD_ENABLED: { type: bool, default: 'false', section: 'Cloud target', doc: 'Upload archives with rclone.' },
  CLOUD_REMOTE: { type: str, default: '', section: 'Cloud target', doc: 'rclone remote name (without the colon).' },
  CLOUD_REMOTE_PATH: { type: str, default: '', section: 'Cloud target', doc: 'Path inside the remote.' },
  CLOUD_REQUIRED: { type: bool, default: 'false', section: 'Cloud target', doc: 'A cloud failure exits 6 instead of 1.' },
  CLOUD_VERIFY_DOWNLOAD: { type: bool, default: 'false', section: 'Cloud target', doc: 'Verify uploads by downloading them instead of trusting the remote hash.' },
  RCLONE_CONFIG: { type: path, default: '', section: 'Cloud target', doc: "rclone.conf to use; empty means rclone's default." },
  RCLONE_TIMEOUT_CONNECTION: { type: int(1, 3600), default: '30', section: 'Cloud target', doc: 'rclone --contimeout in seconds.' },
  RCLONE_TIMEOUT_OPERATION: { type: int(1, 86400), default: '300', section: 'Cloud target', doc: 'Seconds one rclone operation (an upload, a listing, a hash) may take; then the rclone daemon is killed and the operation retried.' },
  RCLONE_RETRIES: { type: int(0, 20), default: '3', section: 'Cloud target', doc: 'Retries of a retryable rclone failure, with exponential backoff.' },
  RCLONE_BANDWIDTH_LIMIT: { type: str, default: '', section: 'Cloud target', doc: 'rclone --bwlimit value, e.g. 10M.' },
  RCLONE_FLAGS: { type: list, default: '', section: 'Cloud target', doc: 'Extra rclone flags, whitespace separated.' },

  // Disk space
  MIN_DISK_SPACE_PRIMARY_GB: { type: { kind: 'number', min: 0, max: 1e6 }, default: '1', section: 'Disk space', doc: 'Minimum free space on BACKUP_PATH before an export.' },
  MIN_DISK_SPACE_SECONDARY_GB: { type: { kind: 'number', min: 0, max: 1e6 }, default: '1', section: 'Disk space', doc: 'Minimum free space on SECONDARY_PATH.' },
  MIN_DISK_SPACE_CLOUD_GB: { type: { kind: 'number', min: 0, max: 1e6 }, default: '1', section: 'Disk space', doc: 'Minimum free space on the cloud remote, where rclone can tell.' },
  DISK_SAFETY_FACTOR: { type: { kind: 'number', min: 1, max: 100 }, default: '1.5', section: 'Disk space', doc: 'Required space is at least the estimated archive size times this factor.' },

  // Retention
  RETENTION_POLICY: { type: { kind: 'enum', values: ['simple', 'gfs'] }, default: 'simple', section: 'Retention', doc: 'simple keeps the newest MAX_*_BACKUPS; gfs uses the KEEP_* rules with Proxmox Backup Server prune semantics.' },
  MAX_LOCAL_BACKUPS: { type: int(-1, 100000), default: '15', section: 'Retention', doc: 'simple: archives kept on the local target; <= 0 disables deletion.' },
  MAX_SECONDARY_BACKUPS: { type: int(-1, 100000), default: '15', section: 'Retention', doc: 'simple: archives kept on the secondary target; <= 0 disables deletion.' },
  MAX_CLOUD_BACKUPS: { type: int(-1, 100000), default: '15', section: 'Retention', doc: 'simple: archives kept on the cloud target; <= 0 disables deletion.' },
  KEEP_LAST: { type: int(0, 100000), default: '0', section: 'Retention', doc: 'gfs: keep the newest N archives.' },
  KEEP_HOURLY: { type: int(0, 100000), default: '0', section: 'Retention', doc: 'gfs: keep the newest archive of each of the last N hours.' },
  KEEP_DAILY: { type: int(0, 100000), default: '0', section: 'Retention', doc: 'gfs: days.', aliases: ['RETENTION_DAILY'] },
  KEEP_WEEKLY: { type: int(0, 100000), default: '0', section: 'Retention', doc: 'gfs: ISO weeks.', aliases: ['RETENTION_WEEKLY'] },
  KEEP_MONTHLY: { type: int(0, 100000), default: '0', section: 'Retention', doc: 'gfs: months.', aliases: ['RETENTION_MONTHLY'] },
  KEEP_YEARLY: { type: int(0, 100000), default: '0', section: 'Retention', doc: 'gfs: years.', aliases: ['RETENTION_YEARLY'] },

  // Schedule (proxsave schedule install)
  SYSTEMD_UNIT_DIR: { type: path, default: '/etc/systemd/system', section: 'Schedule', doc: 'Where `proxsave schedule install` writes proxsave.service and proxsave.timer.' },
  SCHEDULE_ON_CALENDAR: { type: str, default: 'hourly', section: 'Schedule', doc: 'systemd OnCalendar= of proxsave.timer (see systemd.time(7)); --on-calendar overrides it.' },
  SCHEDULE_RANDOM_DELAY: { type: int(0, 86400), default: '600', section: 'Schedule', doc: 'RandomizedDelaySec= of proxsave.timer, so the nodes of a cluster do not all run at once.' },

  // Notifications (sent after `proxsave run`; a failed notification is a warning, never a failed run)
  NOTIFY_ON: { type: { kind: 'enum', values: ['always', 'changes,failure', 'changes', 'failure', 'never'], aliases: { 'failure,changes': 'changes,failure' } }, default: 'changes,failure', section: 'Notifications', doc: 'When to notify: always; changes (a commit was made); failure (exit code not 0); changes,failure; never.' },
  NOTIFY_CRITICAL_PATHS: { type: list, default: '**/storage.cfg **/corosync.conf etc/network/interfaces **/user.cfg **/qemu-server/** **/lxc/**', section: 'Notifications', doc: 'Globs over snapshot paths (etc/pve/storage.cfg); a change to one is flagged in the subject as CRITICAL CHANGE.' },
  EMAIL_ENABLED: { type: bool, default: 'false', section: 'Notifications', doc: "Send a report by email through the host's own mail system (sendmail, or Proxmox's notification system)." },
  EMAIL_DELIVERY: { type: { kind: 'enum', values: ['sendmail', 'proxmox'] }, default: 'sendmail', section: 'Notifications', doc: "sendmail pipes the mail to sendmail -t (postfix on PVE/PBS); proxmox hands it to proxmox-mail-forward, which delivers to the targets configured under Datacenter > Notifications." },
  EMAIL_RECIPIENT: { type: str, default: '', section: 'Notifications', doc: "Recipient(s), comma separated. Empty means root@pam's email from /etc/pve/user.cfg or /etc/proxmox-backup/user.cfg." },
  EMAIL_FROM: { type: str, default: '', section: 'Notifications', doc: 'From: address. Empty means proxsave@<hostname>.' },
  WEBHOOK_URL: { type: str, default: '', section: 'Notifications', doc: 'POST a report to this URL (empty: no webhook). Use your own endpoint, a Gotify or ntfy server, or a Slack/Discord incoming webhook.' },
  WEBHOOK_FORMAT: { type: { kind: 'enum', values: ['generic', 'slack', 'discord', 'gotify', 'ntfy'] }, default: 'generic', section: 'Notifications', doc: 'Body format: generic (the JSON summary), slack, discord, gotify or ntfy.' },
  WEBHOOK_TOKEN: { type: str, default: '', section: 'Notifications', secret: true, doc: 'Sent as "Authorization: Bearer <token>" (gotify: X-Gotify-Key). Never logged.' },
  WEBHOOK_TIMEOUT: { type: int(1, 300), default: '10', section: 'Notifications', doc: 'Seconds one webhook attempt may take.' },
  WEBHOOK_RETRIES: { type: int(0, 10), default: '2', section: 'Notifications', doc: 'Retries after a failed attempt (network error, 429 or 5xx), with backoff.' },

  // Metrics
  METRICS_ENABLED: { type: bool, default: 'false', section: 'Metrics', doc: 'Write Prometheus metrics for the node_exporter textfile collector after each run.' },
  METRICS_PATH: { type: path, default: '/var/lib/prometheus/node-exporter/proxsave.prom', section: 'Metrics', doc: 'The .prom file (written atomically: temporary file, then rename). Its directory must be the collector --collector.textfile.directory.' },

  // Fleet history
  SNAPSHOT_REMOTE: { type: str, default: '', section: 'Fleet history', doc: 'Git remote that `run` pushes the snapshot history to, on branch hosts/<hostname>. HTTPS (or HTTP) URL, or SSH (git@host:repo.git, via the git CLI). THE REMOTE HOLDS SECRETS: use a private repository, TLS and a token limited to that repository.' },
  SNAPSHOT_REMOTE_TOKEN: { type: str, default: '', section: 'Fleet history', secret: true, doc: 'HTTP(S) remote: token (sent as basic auth password with SNAPSHOT_REMOTE_USER, or as a bearer token when the user is empty). Never logged.' },
  SNAPSHOT_REMOTE_USER: { type: str, default: '', section: 'Fleet history', doc: 'HTTP(S) remote: basic auth user name (for example the token owner; GitHub/Gitea accept any name with a token).' },
  FLEET_CACHE_PATH: { type: path, default: '/var/lib/proxsave/fleet', section: 'Fleet history', doc: 'Private (0700) bare repository where `proxsave fleet` fetches the remote.' },
} as const satisfies Record<string, KeyDef>;

export type KeyName = keyof typeof KEYS;

type ValueOf<K extends KeyKind> = K extends { kind: 'bool' }
  ? boolean
  : K extends { kind: 'int' } | { kind: 'number' } | { kind: 'size' }
    ? number
    : K extends { kind: 'list' } | { kind: 'globlist' } | { kind: 'pathlist' }
      ? string[]
      : string;

/** The effective, validated configuration. Paths are absolute. */
export type Config = { -readonly [K in KeyName]: ValueOf<(typeof KEYS)[K]['type']> };

export const KEY_NAMES = Object.keys(KEYS) as KeyName[];

/** The BACKUP_* collection toggles: the keys a task's `toggle:` and `when:` may name. */
export const TOGGLE_KEYS = KEY_NAMES.filter((k) => k.startsWith('BACKUP_') && KEYS[k].type.kind === 'bool');
