// One torture schedule: a storage, a few clients (snapshot ids, two of them new, each with its own
// repository, cache and clock offset), and a seeded sequence of steps run as real dbk processes with
// injected storage faults: backups (waited for, killed with SIGKILL, held with SIGSTOP across later
// steps, or left running beside them), prunes of every kind (some killed), check -resurrect and
// -persist, restores (some killed, then run again), and -exclusive prunes when nothing else runs.
// After every step the storage is verified (verify.ts); at the end every held backup goes on,
// everything finishes, and every revision is restored byte for byte.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { init } from '../../src/commands/init.js';
import { type Random, seededRandom } from '../../src/seeded-random.js';
import { DbkProcess, type Exit, sleep } from './dbk-process.js';
import { copyTree, editTree, filesOf } from './trees.js';
import { Verifier } from './verify.js';

export interface StorageSpec {
  kind: 'local' | 'sftp' | 's3';
  /** the storage URL of a folder */
  url(dir: string): string;
}

export interface Tally {
  schedules: number;
  steps: number;
  kills: number;
  holds: number;
  /** holds during which at least one prune ran */
  holdsAcrossPrunes: number;
  chunksChecked: number;
  /** chunk ids a check found missing (never expected) */
  lost: Set<string>;
  /** revisions restored byte for byte */
  restored: number;
  /** what went wrong, with the schedule's seed and trace */
  failures: string[];
}

export const emptyTally = (): Tally => ({ schedules: 0, steps: 0, kills: 0, holds: 0, holdsAcrossPrunes: 0, chunksChecked: 0, lost: new Set(), restored: 0, failures: [] });

const PASSWORD = 'torture';
/** a process that runs this long (not held) is taken for hung, killed, and reported */
const HANG_MS = 120_000;

interface Attempt {
  proc: DbkProcess;
  /** the tree as the backup read it */
  tree: string;
  /** held, and prunes that ran while it was */
  prunesWhileHeld: number;
}

interface Client {
  id: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  attempt?: Attempt;
}

export class Schedule {
  private readonly rnd: Random;
  private readonly clients: Client[] = [];
  private readonly trace: string[] = [];
  private readonly background = new Set<DbkProcess>();
  private verifier!: Verifier;
  private restorer!: string;
  private restorerUnfinished = false;
  private attempts = 0;
  private processes = 0;
  /** how long processes of each kind took, lately: a kill or hold falls anywhere within that */
  private readonly typicalMs = new Map<string, number>();

  constructor(
    private readonly seed: number,
    private readonly root: string,
    private readonly storage: StorageSpec,
    private readonly tally: Tally,
  ) {
    this.rnd = seededRandom(seed);
  }

  async run(steps: number): Promise<void> {
    await this.setUp();
    for (let i = 0; i < steps; i++) {
      await this.step();
      this.tally.steps++;
      await this.verify(false);
    }
    await this.finish();
    this.tally.schedules++;
  }

  private fail(message: string): void {
    this.tally.failures.push(`seed ${this.seed}: ${message}\n  after: ${this.trace.join('\n         ')}`);
  }

  private async setUp(): Promise<void> {
    const storageUrl = this.storage.url(path.join(this.root, 'storage'));
    const encrypt = this.rnd.int(2) === 0;
    const shared = { storageUrl, encrypt, chunkSize: 1024, minChunkSize: 256, maxChunkSize: 4096, compressionLevel: this.rnd.int(2), kdfLogN: 10, askPassword: async () => PASSWORD };
    const join = async (id: string) => {
      const dir = path.join(this.root, id);
      fs.mkdirSync(dir, { recursive: true });
      await init({ ...shared, repoDir: dir, snapshotId: id });
      return dir;
    };
    for (const id of ['a', 'b', 'c', 'd']) {
      // clocks hours apart: nothing that decides a deletion may depend on them agreeing
      const offset = this.rnd.int(2) === 0 ? 0 : (this.rnd.int(12) - 6) * 3600 + this.rnd.int(3600);
      const env = { ...process.env, DBK_PASSWORD: PASSWORD, DBK_TEST_CLOCK_OFFSET_S: String(offset) };
      this.clients.push({ id, dir: await join(id), env });
    }
    this.verifier = await Verifier.open(await join('verifier'), await join('checker'), PASSWORD);
    this.restorer = await join('restorer');
    this.trace.push(`${this.storage.kind} storage, ${encrypt ? 'encrypted' : 'plain'}; clock offsets ${this.clients.map((c) => `${c.id} ${c.env.DBK_TEST_CLOCK_OFFSET_S} s`).join(', ')}`);
    // a and b have revisions; c and d are new ids whose first backups happen among the steps
    for (const c of this.clients.slice(0, 2)) {
      this.startBackup(c);
      await this.wait(c.attempt!.proc, 'backup');
    }
    await this.verify(false);
  }

  private env(c: Client): NodeJS.ProcessEnv {
    const seed = this.seed * 1000 + ++this.processes;
    return { ...c.env, DBK_TEST_FAULTS: `seed=${seed},error=0.01,lost=0.01,slow=0.05,hang=0.0005` };
  }

  private start(c: Client, args: string[], cwd = c.dir): DbkProcess {
    const proc = new DbkProcess(`${c.id}: dbk ${args.join(' ')}`, cwd, args, this.env(c));
    this.trace.push(proc.what);
    return proc;
  }

  private idle(): Client[] {
    return this.clients.filter((c) => !c.attempt?.proc.running);
  }

  private async step(): Promise<void> {
    const held = this.clients.filter((c) => c.attempt?.proc.held);
    const roll = this.rnd.next();
    if (held.length > 0 && roll < 0.15) return this.resumeHeld(this.rnd.pick(held));
    if (held.length > 0 && roll < 0.6) return this.pruneStep(); // what a held backup is there for
    if (roll < 0.5 && this.idle().length > 0) return this.backupStep(this.rnd.pick(this.idle()));
    if (roll < 0.85) return this.pruneStep();
    if (roll < 0.92) return this.restoreStep();
    return this.checkStep();
  }

  private startBackup(c: Client): void {
    const others = this.clients.filter((o) => o !== c).flatMap((o) => filesOf(o.dir).map((f) => path.join(o.dir, f)));
    editTree(c.dir, this.rnd, others);
    const tree = path.join(this.root, 'trees', `${c.id}-${++this.attempts}`);
    copyTree(c.dir, tree);
    this.verifier.attribute(c.id, tree); // revisions of c that appear from now on were made from this tree
    c.attempt = { proc: this.start(c, ['backup', '--json']), tree, prunesWhileHeld: 0 };
  }

  private async backupStep(c: Client): Promise<void> {
    await this.verifier.register(); // a killed backup's revision may have landed late: it is the old attempt's
    this.startBackup(c);
    const proc = c.attempt!.proc;
    const mode = this.rnd.next();
    if (mode < 0.3) return void (await this.wait(proc, 'backup'));
    // a hold lands once the backup has announced itself (mostly while it uploads), a kill anywhere
    const holding = mode >= 0.55 && mode < 0.9;
    if (holding) await this.verifier.untilAnnounced(proc);
    await this.someMoment(proc, 'backup', holding ? 0.3 : 1);
    if (mode < 0.55) {
      if (proc.kill()) this.counted('kill', proc);
      await proc.exited;
    } else if (mode < 0.9) {
      if (proc.hold()) this.counted('hold', proc);
      else await this.wait(proc, 'backup');
    } else {
      this.background.add(proc); // runs beside the next steps
      this.trace.push(`  left running`);
    }
  }

  private counted(what: 'kill' | 'hold', proc: DbkProcess): void {
    this.tally[what === 'kill' ? 'kills' : 'holds']++;
    this.trace.push(`  ${what === 'kill' ? 'killed' : 'held'}: ${proc.what}`);
  }

  private async resumeHeld(c: Client): Promise<void> {
    const a = c.attempt!;
    this.trace.push(`resume ${a.proc.what} (${a.prunesWhileHeld} prunes ran while it was held)`);
    if (a.prunesWhileHeld > 0) this.tally.holdsAcrossPrunes++;
    a.proc.resume();
    if (this.rnd.int(2) === 0) await this.wait(a.proc, 'backup');
    else this.background.add(a.proc);
  }

  private pruneArgs(): string[] {
    // while a backup is held, prunes that make fossils of its chunks and delete them come first
    if (this.clients.some((c) => c.attempt?.proc.held) && this.rnd.int(2) === 0)
      return this.rnd.pick([
        ['prune', '-exhaustive'],
        ['prune', '-exhaustive', '-a', '-keep', '1:0'],
      ]);
    const nothingElseRuns = this.clients.every((c) => !c.attempt?.proc.running) && this.background.size === 0;
    const ids = this.verifier.revisionNumbers();
    const older = [...ids].flatMap(([id, ns]) => ns.slice(0, -1).map((n) => ['-id', id, '-r', String(n)]));
    const variants: string[][] = [
      ['prune', '-exhaustive'],
      ['prune', '-exhaustive', '-collect-only'],
      ['prune', '-delete-only'],
      ['prune', '-a', '-keep', '1:0'],
      ['prune', '-a', '-keep', '0:0', '-exhaustive', '-from-cache'],
      ['prune', '-exhaustive', '-ignore', this.rnd.pick(this.clients).id],
      ...(older.length > 0 ? [['prune', ...this.rnd.pick(older)]] : []),
    ];
    if (nothingElseRuns && this.rnd.int(6) === 0) return ['prune', '-exclusive', '-exhaustive', '-a', '-keep', '1:0'];
    return this.rnd.pick(variants);
  }

  private async pruneStep(): Promise<void> {
    const idle = this.idle();
    const from = idle.length > 0 ? this.rnd.pick(idle) : this.rnd.pick(this.clients);
    const proc = this.start(from, this.pruneArgs());
    for (const c of this.clients) if (c.attempt?.proc.held) c.attempt.prunesWhileHeld++;
    await this.maybeKill(proc, 0.3, 'prune');
  }

  private async checkStep(): Promise<void> {
    const args = this.rnd.int(2) === 0 ? ['check', '-a', '-resurrect'] : ['check', '-a', '-persist', '-files'];
    await this.maybeKill(this.start(this.rnd.pick(this.clients), args), 0.4, 'check');
  }

  /** A restore of a random revision into a folder of its own; killed now and then, and then run again by the next. */
  private async restoreStep(): Promise<void> {
    const ids = [...this.verifier.revisionNumbers()].filter(([, ns]) => ns.length > 0);
    if (ids.length === 0) return;
    const [id, ns] = this.rnd.pick(ids);
    const n = ns[ns.length - 1]!; // the newest: no prune deletes it while it is being read
    const proc = this.start({ id: 'restorer', dir: this.restorer, env: this.clients[0]!.env }, ['restore', '-id', id, '-r', String(n), '-overwrite', '-delete'], this.restorer);
    const exit = await this.maybeKill(proc, this.restorerUnfinished ? 0 : 0.4, 'restore');
    this.restorerUnfinished = exit === undefined;
    if (exit?.code === 0) {
      const differences = this.verifier.compareWithTree(id, n, this.restorer);
      if (differences.length > 0) this.fail(`restore of ${id}/${n} by the CLI differs from the tree backed up: ${differences.join('; ')}`);
      else this.tally.restored++;
    }
  }

  /** Waits until a random moment within (a share of) a process's likely run, or its end. */
  private async someMoment(proc: DbkProcess, kind: string, within = 1): Promise<void> {
    await Promise.race([sleep(this.rnd.int(Math.ceil(within * (this.typicalMs.get(kind) ?? 500)))), proc.exited]);
  }

  /** Runs a process to its end, or kills it at a random moment; undefined when it was killed. */
  private async maybeKill(proc: DbkProcess, chance: number, kind: string): Promise<Exit | undefined> {
    if (this.rnd.next() < chance) {
      await this.someMoment(proc, kind);
      if (proc.kill()) {
        this.counted('kill', proc);
        await proc.exited;
        return undefined;
      }
    }
    return this.wait(proc, kind);
  }

  /** Waits for a process and judges how it ended. */
  private async wait(proc: DbkProcess, kind: string): Promise<Exit> {
    const started = Date.now();
    const exit = await proc.finish(HANG_MS);
    if (!proc.killed) this.typicalMs.set(kind, ((this.typicalMs.get(kind) ?? Date.now() - started) + Date.now() - started) / 2);
    this.judge(proc, exit, kind);
    if (exit.timedOut) this.fail(`${proc.what} hung for ${HANG_MS / 1000} s and was killed`);
    return exit;
  }

  private judge(proc: DbkProcess, exit: Exit, kind: string): void {
    if (proc.killed) return;
    const stderr = exit.stderr.trim();
    if (/\n\s+at /.test(stderr)) {
      this.fail(`${proc.what} printed a stack trace:\n${stderr}`);
      return;
    }
    if (exit.code === 0) return;
    // what a sound dbk may answer here: retries exhausted by injected faults, -exclusive refused
    // while another client's dead backup is still announced
    const allowed = exit.code === 1 && /injected fault|-exclusive needs every other client stopped/.test(stderr);
    if (!allowed) this.fail(`${kind} ${proc.what} exited ${exit.code ?? exit.signal}: ${stderr}`);
  }

  private async verify(final: boolean): Promise<void> {
    for (const proc of [...this.background]) {
      if (proc.running) continue;
      this.background.delete(proc);
      this.judge(proc, await proc.exited, 'background');
    }
    const r = await this.verifier.verify(this.rnd, final);
    this.tally.chunksChecked += r.chunksChecked;
    this.tally.restored += r.restored;
    for (const id of r.lost) this.tally.lost.add(`${this.seed}:${id}`);
    for (const p of r.problems) this.fail(p);
  }

  private async finish(): Promise<void> {
    for (const c of this.clients) {
      const a = c.attempt;
      if (!a) continue;
      if (a.proc.held) {
        if (a.prunesWhileHeld > 0) this.tally.holdsAcrossPrunes++;
        this.trace.push(`resume ${a.proc.what} at the end (${a.prunesWhileHeld} prunes ran while it was held)`);
        a.proc.resume();
      }
      if (a.proc.running) await this.wait(a.proc, 'backup');
    }
    for (const proc of this.background) if (proc.running) await this.wait(proc, 'background');
    await this.verify(true);
    await this.verifier.close();
  }
}
