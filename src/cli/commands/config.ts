// proxsave config check: the effective configuration or its errors.
import { displayValue, where } from '../../config/load-config.ts';
import { KEYS, KEY_NAMES } from '../../config/keys.ts';
import { ProxsaveError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import { type Command, noExtraArgs } from '../command.ts';

export const configCmd: Command = {
  summary: 'config check: print the effective configuration or every error',
  usage: 'check',
  options: {},
  async run(c) {
    if (c.args[0] !== 'check') throw new ProxsaveError('USAGE', 'config: the only subcommand is "check"', { hint: 'proxsave config check [-c FILE]' });
    noExtraArgs(c, 1);
    const loaded = c.loadConfig();
    const rows = KEY_NAMES.map((k) => ({ key: k, value: displayValue(k, loaded.config[k]), source: where(loaded.sources[k]) }));
    if (c.out.json) c.out.emit({ file: loaded.file ?? null, valid: true, warnings: loaded.warnings, config: Object.fromEntries(rows.map((r) => [r.key, r.value])) });
    else {
      c.out.out(c.out.paint.dim(`# effective configuration (${loaded.file ?? 'no file: defaults and environment'})`));
      let section = '';
      for (const r of rows) {
        const s = KEYS[r.key].section;
        if (s !== section) {
          section = s;
          c.out.out(c.out.paint.dim(`# ${s}`));
        }
        c.out.out(`${r.key}=${r.value}${c.out.paint.dim(`  # ${r.source}`)}`);
      }
      c.out.out(c.out.paint.green('configuration is valid'));
    }
    return EXIT.OK;
  },
};
