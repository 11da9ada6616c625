import fs from 'node:fs'; import path from 'node:path'; import crypto from 'node:crypto';
const [dir, sizeMbS, nSmallS] = process.argv.slice(2);
const sizeMb = Number(sizeMbS); const nSmall = Number(nSmallS ?? 2000);
const words = ['storage','dir','path','content','images','rootdir','vztmpl','backup','iso','nodes','shared','maxfiles','bridge','vmbr0','auto','iface','inet','static','address','gateway'];
let seed = 12345; const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
const textFile = (bytes: number) => { const lines: string[] = []; let size = 0; while (size < bytes) { const l = `${words[rnd(words.length)]}: ${words[rnd(words.length)]}-${rnd(100000)} ${rnd(2) ? `${rnd(256)}.${rnd(256)}.${rnd(256)}.${rnd(256)}/24` : words[rnd(words.length)]}`; lines.push(l); size += l.length + 1; } return Buffer.from(lines.join('\n') + '\n'); };
const total = sizeMb * 1024 * 1024; let written = 0; let i = 0;
for (let s = 0; s < nSmall; s++) { const d = path.join(dir, 'data/etc', `d${Math.floor(s / 20)}`); if (s % 20 === 0) fs.mkdirSync(d, { recursive: true }); const b = textFile(200 + rnd(4000)); fs.writeFileSync(path.join(d, `f${s}.conf`), b); written += b.length; }
while (written < total) { const sub = path.join(dir, 'data/var', `d${Math.floor(i / 50)}`); fs.mkdirSync(sub, { recursive: true }); const b = i % 8 === 7 ? crypto.randomBytes(1 << 20) : textFile((1 << 20) + rnd(1 << 20)); fs.writeFileSync(path.join(sub, `f${i}.${i % 8 === 7 ? 'bin' : 'cfg'}`), b); written += b.length; i++; }
