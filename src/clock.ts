// The time dbk writes into what it stores (revision times, record names, announcements) and
// plans with (retention). One function, so that a test can set one process's clock off: the
// torture harness gives each client a clock hours away from the others', as hosts' clocks are,
// to show that no decision to delete a chunk depends on two hosts agreeing on the time.

const offsetSeconds = Number(process.env.DBK_TEST_CLOCK_OFFSET_S ?? 0);
const offsetMs = Number.isFinite(offsetSeconds) ? offsetSeconds * 1000 : 0;

export const DAY_MS = 86_400_000;

/** Milliseconds since the epoch, as this process's clock has it. */
export const now = (): number => Date.now() + offsetMs;
