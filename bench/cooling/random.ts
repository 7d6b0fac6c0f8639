/**
 * Seeded randomness for generated traces: the same seed gives the same trace on every
 * machine and Node.js version, which `Math.random` does not promise.
 */

export interface Random {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Uniform in [min, max). */
  between(min: number, max: number): number;
  /** Gaps of a Poisson process of that mean: memoryless. */
  exponential(mean: number): number;
  /** Most values near the median, a long right tail; `sigma` is the log's spread. */
  lognormal(median: number, sigma: number): number;
  /** At least `min`, tail index `alpha`: below 2 the variance is infinite. */
  pareto(min: number, alpha: number): number;
}

/** mulberry32: a 32-bit state, fast, and good enough for workload shapes (not for secrets). */
const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

/** FNV-1a: gives each named stream its own sequence, so adding a trace changes no other. */
const hash = (text: string): number => {
  let value = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) value = Math.imul(value ^ text.charCodeAt(i), 0x01000193);
  return value >>> 0;
};

/** The random stream `stream` of `seed`. */
export const seededRandom = (seed: number, stream: string): Random => {
  const next = mulberry32(hash(`${seed}:${stream}`));
  // 1 - u is in (0, 1]: its logarithm and powers stay finite.
  const open = () => 1 - next();
  return {
    uniform: next,
    between: (min, max) => min + (max - min) * next(),
    exponential: (mean) => -mean * Math.log(open()),
    // Box-Muller: one standard normal from two uniforms.
    lognormal: (median, sigma) =>
      median * Math.exp(sigma * Math.sqrt(-2 * Math.log(open())) * Math.cos(2 * Math.PI * next())),
    pareto: (min, alpha) => min / open() ** (1 / alpha),
  };
};
