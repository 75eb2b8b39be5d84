/**
 * CPU time by process (Linux /proc), so each figure can say where a unit of work spends the machine's two
 * cores: the API, Postgres (the postmaster, its live backends and, through cutime, the ones that exited),
 * the load generator, and this process's reaped children (pgbench).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // CLK_TCK = 100 on Linux

interface Stat {
  ppid: number;
  own: number;
  children: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the command: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17), numbered from 1.
    const at = (n: number) => Number(fields[n - 3]);
    return { ppid: at(4), own: (at(14) + at(15)) * TICK_MS, children: (at(16) + at(17)) * TICK_MS };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds used so far by one process. */
export function processCpuMs(pid: number | undefined): number {
  return pid ? (stat(pid)?.own ?? 0) : 0;
}

/** CPU milliseconds of this process's exited, reaped children (pgbench runs). */
export function reapedChildrenCpuMs(): number {
  return stat(process.pid)?.children ?? 0;
}

/** CPU milliseconds of a Postgres cluster: postmaster, live children, and exited children. */
export function clusterCpuMs(postmasterPid: number): number {
  const postmaster = stat(postmasterPid);
  if (!postmaster) return 0;
  let total = postmaster.own + postmaster.children;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s && s.ppid === postmasterPid) total += s.own;
  }
  return total;
}

export type CpuSnapshot = Record<string, number>;

/** Milliseconds used per process group between two snapshots, divided by `units` (ms per unit). */
export function perUnit(before: CpuSnapshot, after: CpuSnapshot, units: number): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, Math.round((1000 * (after[k]! - (before[k] ?? 0))) / Math.max(1, units)) / 1000]));
}

/**
 * CPU milliseconds the whole machine has spent running processes (all CPUs; /proc/stat user + nice +
 * system). Interrupt and softirq time is left out: it cannot be attributed to a process, and the
 * benchmark's own loopback traffic causes most of it.
 */
export function machineBusyMs(): number {
  const [user, nice, system] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system!) * TICK_MS;
}

export interface ForeignMark {
  machine: number;
  ours: number;
  at: number;
}

/** A mark for foreignShare(): the machine's busy time and the benchmark's own (`ours`, in CPU ms) now. */
export function mark(ours: number): ForeignMark {
  return { machine: machineBusyMs(), ours, at: performance.now() };
}

/** Share of all CPUs used between two marks by programs that are not the benchmark's. */
export function foreignShare(a: ForeignMark, b: ForeignMark, cpuCount: number): number {
  const foreign = b.machine - a.machine - (b.ours - a.ours);
  return Math.max(0, Math.round((100 * foreign) / ((b.at - a.at) * cpuCount)) / 100);
}
