// proxsave's version: its own module, so that printing it (and the commands
// that only stamp it) load nothing else.
export const VERSION = '0.1.0';
