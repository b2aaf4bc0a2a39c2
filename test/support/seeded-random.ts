// The seeded random generator the tests use is dbk's own (it also drives injected faults).
export { type Random, seededRandom } from '../../src/seeded-random.js';
