// archive/: snapshot commit → deterministic tar → compressor → verified file.
// The tar is written by hand (tar-header.ts) so every byte is reproducible;
// compression runs through one interface over CLIs and libraries (codec.ts).
export { archiveFileName, parseArchiveName, compressionFromPath, safeHostname, EXTENSIONS, type CompressionType, type ParsedArchiveName } from './archive-name.ts';
export { resolveCompression, LEVEL_RANGE, DEFAULT_LEVEL, type ResolvedCompression, type CompressionSettings, type CompressionMode, type CompressionEngine } from './resolve-compression.ts';
export { createCompressor, createDecompressor, findExecutable } from './codec.ts';
export { checkArchive, type CheckedArchive } from './check-archive.ts';
export { readManifest, serializeManifest, formatSha256Sidecar, parseSha256Sidecar, type Manifest } from './manifest.ts';
export { tarHeader, tarTrailer, type TarEntry } from './tar-header.ts';
export { TarParser, type ParsedEntry } from './tar-parser.ts';
