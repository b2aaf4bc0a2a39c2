// dbk odb-login: sign in to OneDrive with the device-code flow and write the token file that the
// storage's odb_token setting names. Works before init (to get a token for it) and after.

import type { Command } from 'commander';
import { makeSettings } from '../settings.js';
import { findRepository, readPreferences } from '../storage/preferences.js';
import { printJson } from './context.js';

interface Flags {
  storageName?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('odb-login')
    .description('sign in to OneDrive (device code) and write the token file for odb:// storages')
    .option('--storage-name <name>', 'whose settings to use (odb_token, odb_auth_url, odb_client_id)', 'default')
    .option('--json', 'print the result as JSON')
    .argument('[token-file]', 'where to write the tokens (default: the odb_token setting, else .dbk/odb-token.json)')
    .action(async (tokenArg: string | undefined, f: Flags) => {
      const name = f.storageName ?? 'default';
      const repoDir = findRepository(process.cwd());
      const stored = repoDir ? readPreferences(repoDir).storages.find((s) => s.name === name)?.settings : undefined;
      const settings = makeSettings(name, stored ?? {});
      const base = repoDir ?? process.cwd();
      const tokenFile = tokenArg ?? settings.get('odb_token') ?? '.dbk/odb-token.json';
      const { odbLogin } = await import('../../backends/onedrive/login.js');
      const r = await odbLogin({
        settings,
        tokenFile,
        repoDir: base,
        onUserCode: (p) => process.stderr.write(`${p.message || `Open ${p.verificationUri} and enter the code ${p.userCode}`}\n`),
      });
      if (f.json) return printJson(r);
      process.stdout.write(`signed in; tokens written to ${r.tokenFile} (set odb_token to this path, e.g. DBK_${name === 'default' ? '' : `${name.toUpperCase()}_`}ODB_TOKEN)\n`);
    });
}
