// A fast first answer for large tight node assignments, where the exact search (node-assignment.ts)
// runs out of steps: tabu search over complete assignments, with restarts. It never proves that no
// assignment exists; it returns one that fits or nothing.
//
// Why tabu search with move-and-swap: on exact fills a node one core over and another one core
// under are often fixed only by exchanging a 2-core VM for a 1-core one, which single moves (as in
// plain annealing over node assignments, which issue 13 reports placing 11 of 12 tight requests in
// under 3 s) reach only through a worse state. Measured here (bench/plan.bench.ts, 2-core CI
// machine): every generated feasible case of the tight families, 2-16 nodes and up to ~270 VMs,
// placed in at most about 1.1 s of planner time; annealing was not built to compare.
import type { AutoVm, NodeState } from "./node-assignment";

/** A small deterministic PRNG (mulberry32): the same request gives the same plan every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Iterations without a better best assignment before a restart from a perturbed best. */
const RESTART_AFTER = 3000;

/**
 * Search for an assignment of every VM to a node where no node is overfull.
 * The state: every VM on some node it could hold alone (reserve rule included). Its cost: the sum
 * over nodes and resources (cores, memory, each page size) of how far the node is over, each
 * resource divided by the largest node's amount of it so that all weigh alike; 0 is a fit.
 * 1. Start from best-fit-decreasing that puts a VM no node can take now on the node it overfills least.
 * 2. Each iteration: pick an overfull node (at random), and among the moves of one of its VMs to
 *    another node and the swaps of one of its VMs with a VM of another node, make the one that
 *    lowers the cost most; a move that puts a VM back on a node it left within the last few
 *    iterations is tabu unless it gives a new best. Ties go to the first found in a random order.
 * 3. After RESTART_AFTER iterations without a new best, restart from the best with a few VMs moved
 *    at random.
 * 4. Stop at cost 0 (found) or at `deadline` (ms of `now`).
 */
export function localSearch(
  vms: readonly AutoVm[],
  nodes: readonly NodeState[],
  deadline: number,
  now: () => number,
): { nodeOf: Map<number, number>; iterations: number } | null {
  const V = vms.length;
  const N = nodes.length;
  if (V === 0) return { nodeOf: new Map(), iterations: 0 };
  const sizes = [...new Set(vms.flatMap((v) => (v.pageSizeKiB === null ? [] : [v.pageSizeKiB])))].sort((a, b) => a - b);
  const D = 2 + sizes.length;
  const cap = new Float64Array(N * D);
  const dem = new Float64Array(V * D);
  for (let n = 0; n < N; n++) {
    cap[n * D] = nodes[n].cores;
    cap[n * D + 1] = nodes[n].memoryKiB;
    sizes.forEach((s, k) => (cap[n * D + 2 + k] = nodes[n].pages.get(s) ?? 0));
  }
  for (let v = 0; v < V; v++) {
    dem[v * D] = vms[v].cores;
    dem[v * D + 1] = vms[v].memoryKiB;
    const k = vms[v].pageSizeKiB === null ? -1 : sizes.indexOf(vms[v].pageSizeKiB as number);
    if (k >= 0) dem[v * D + 2 + k] = vms[v].pageCount;
  }
  const weight = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    let most = 0;
    for (let n = 0; n < N; n++) most = Math.max(most, cap[n * D + d]);
    weight[d] = 1 / Math.max(1, most);
  }
  // Nodes each VM may go to: it fits there alone, and the reserve rule holds.
  const allowed: number[][] = vms.map((vm, v) => {
    const ok: number[] = [];
    for (let n = 0; n < N; n++) {
      if (vm.needsReserve && !nodes[n].hasReserve) continue;
      let fitsAlone = true;
      for (let d = 0; d < D; d++) if (dem[v * D + d] > cap[n * D + d]) fitsAlone = false;
      if (fitsAlone) ok.push(n);
    }
    return ok;
  });
  if (allowed.some((a) => a.length === 0)) return null;
  const isAllowed = new Uint8Array(V * N);
  allowed.forEach((a, v) => a.forEach((n) => (isAllowed[v * N + n] = 1)));

  const rand = prng(0x5eed);
  const load = new Float64Array(N * D);
  const at = new Int32Array(V);
  const members: number[][] = Array.from({ length: N }, () => []);

  /** How far node n is over with `plus` of VM a added and VM b taken away (-1: none). */
  const over = (n: number, plus: number, minus: number): number => {
    let sum = 0;
    for (let d = 0; d < D; d++) {
      let x = load[n * D + d] - cap[n * D + d];
      if (plus >= 0) x += dem[plus * D + d];
      if (minus >= 0) x -= dem[minus * D + d];
      if (x > 0) sum += x * weight[d];
    }
    return sum;
  };
  const put = (v: number, n: number, sign: 1 | -1) => {
    for (let d = 0; d < D; d++) load[n * D + d] += sign * dem[v * D + d];
    if (sign === 1) {
      members[n].push(v);
      at[v] = n;
    } else {
      const m = members[n];
      m.splice(m.indexOf(v), 1);
    }
  };
  const totalCost = () => {
    let c = 0;
    for (let n = 0; n < N; n++) c += over(n, -1, -1);
    return c;
  };

  // 1. Best fit decreasing by the VM's weighted size, overfilling the least where nothing fits.
  const bySize = [...Array(V).keys()].sort((a, b) => {
    let sa = 0;
    let sb = 0;
    for (let d = 0; d < D; d++) {
      sa += dem[a * D + d] * weight[d];
      sb += dem[b * D + d] * weight[d];
    }
    return sb - sa || a - b;
  });
  for (const v of bySize) {
    let best = -1;
    let bestScore = Infinity;
    for (const n of allowed[v]) {
      const added = over(n, v, -1) - over(n, -1, -1);
      // Fits: the least cores left after it; else the least added overflow, after every fit.
      const score = added > 0 ? 1e6 + added : cap[n * D] - load[n * D] - dem[v * D];
      if (score < bestScore) {
        bestScore = score;
        best = n;
      }
    }
    put(v, best, 1);
  }

  let cost = totalCost();
  let bestCost = cost;
  let bestAt = Int32Array.from(at);
  const tabuUntil = new Int32Array(V * N);
  let iterations = 0;
  let sinceBest = 0;
  const EPS = 1e-12;
  while (cost > EPS) {
    if ((iterations & 63) === 0 && now() > deadline) return null;
    iterations++;
    const overfull: number[] = [];
    for (let n = 0; n < N; n++) if (over(n, -1, -1) > EPS) overfull.push(n);
    const a = overfull[Math.floor(rand() * overfull.length)];
    let bestDelta = Infinity;
    let move: { v: number; to: number; w: number } | null = null;
    let ties = 0;
    const consider = (delta: number, v: number, to: number, w: number, tabu: boolean) => {
      if (tabu && cost + delta >= bestCost - EPS) return;
      if (delta < bestDelta - EPS) {
        bestDelta = delta;
        move = { v, to, w };
        ties = 1;
      } else if (delta < bestDelta + EPS && rand() * ++ties < 1) move = { v, to, w };
    };
    const overA = over(a, -1, -1);
    for (const v of members[a]) {
      const withoutV = over(a, -1, v);
      for (const b of allowed[v]) {
        if (b === a) continue;
        const overB = over(b, -1, -1);
        consider(withoutV - overA + over(b, v, -1) - overB, v, b, -1, tabuUntil[v * N + b] > iterations);
        for (const w of members[b]) {
          if (!isAllowed[w * N + a]) continue;
          const delta = over(a, w, v) - overA + over(b, v, w) - overB;
          consider(delta, v, b, w, tabuUntil[v * N + b] > iterations || tabuUntil[w * N + a] > iterations);
        }
      }
    }
    if (move !== null) {
      const { v, to, w } = move as { v: number; to: number; w: number };
      const tenure = 5 + Math.floor(rand() * 10);
      put(v, a, -1);
      put(v, to, 1);
      tabuUntil[v * N + a] = iterations + tenure;
      if (w >= 0) {
        put(w, to, -1);
        put(w, a, 1);
        tabuUntil[w * N + to] = iterations + tenure;
      }
      cost = totalCost();
    }
    if (cost < bestCost - EPS) {
      bestCost = cost;
      bestAt = Int32Array.from(at);
      sinceBest = 0;
    } else if (++sinceBest > RESTART_AFTER || move === null) {
      // 3. Restart: back to the best, then a few VMs to random allowed nodes.
      for (let n = 0; n < N; n++) members[n] = [];
      load.fill(0);
      for (let v = 0; v < V; v++) put(v, bestAt[v], 1);
      const kicks = 1 + Math.floor(rand() * Math.max(1, V / 10));
      for (let k = 0; k < kicks; k++) {
        const v = Math.floor(rand() * V);
        const to = allowed[v][Math.floor(rand() * allowed[v].length)];
        put(v, at[v], -1);
        put(v, to, 1);
      }
      tabuUntil.fill(0);
      cost = totalCost();
      sinceBest = 0;
    }
  }
  const nodeOf = new Map<number, number>();
  for (let v = 0; v < V; v++) nodeOf.set(vms[v].index, nodes[at[v]].id);
  return { nodeOf, iterations };
}
