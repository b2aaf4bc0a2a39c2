// Runs the Graph emulator on its own until killed:
//   npm run --silent graph-emulator -- --port P --cert-out FILE [--latency-ms N] [--populate-chunks N --root PATH]
//                                      [--seed-dir DIR --root PATH] [--knobs '{"throttleEveryNth":3}']
// --seed-dir copies a local folder tree (e.g. a storage made on disk) to PATH on the drive before it serves.
// Prints "graph emulator listening on https://127.0.0.1:PORT" once it serves. Any bearer token is
// accepted; trust the certificate with NODE_EXTRA_CA_CERTS=FILE (or the storage key odb_ca_file) and
// point the storage keys odb_graph_url and odb_auth_url at the printed URL.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { populateChunks, seedFromDir } from './populate.js';
import { type EmulatorOptions, GraphEmulator } from './server.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'cert-out': { type: 'string' },
      'latency-ms': { type: 'string' },
      'populate-chunks': { type: 'string' },
      'seed-dir': { type: 'string' },
      root: { type: 'string', default: '' },
      knobs: { type: 'string' },
    },
  });
  const options: EmulatorOptions = { port: Number(values.port), ...(values.knobs ? (JSON.parse(values.knobs) as EmulatorOptions) : {}) };
  if (values['latency-ms'] !== undefined) options.latencyMs = Number(values['latency-ms']);
  const emulator = await GraphEmulator.start(options);
  if (values['cert-out']) writeFileSync(values['cert-out'], emulator.certificate);
  if (values['populate-chunks']) populateChunks(emulator.drive, values.root, Number(values['populate-chunks']));
  if (values['seed-dir']) {
    const files = seedFromDir(emulator.drive, values.root, values['seed-dir']);
    process.stderr.write(`graph emulator: ${files} files copied from ${values['seed-dir']} to /${values.root}\n`);
  }
  process.stdout.write(`graph emulator listening on ${emulator.url}\n`);
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`graph emulator: ${(e as Error).message}\n`);
  process.exit(1);
});
