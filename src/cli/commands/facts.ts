// proxsave facts: what was detected about the host and why.
import { EXIT } from '../exit-codes.ts';
import { publicFacts, type Command, contextOf, noExtraArgs } from '../command.ts';

export const factsCmd: Command = {
  summary: 'what proxsave detects about this host, and why',
  usage: '',
  options: {},
  async run(c) {
    noExtraArgs(c, 0);
    const ctx = await contextOf(c);
    if (c.out.json) c.out.emit({ facts: publicFacts(ctx), evidence: ctx.facts.evidence });
    else {
      for (const [k, v] of Object.entries(publicFacts(ctx))) c.out.out(`${k.padEnd(14)} ${v ?? '-'}${ctx.facts.evidence[k] ? c.out.paint.dim(`  (${ctx.facts.evidence[k]})`) : ''}`);
    }
    return EXIT.OK;
  },
};
