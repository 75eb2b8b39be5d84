/** The baseline's one activity: no I/O, so the baseline measures Temporal's own cost of a workflow. */
export async function touch(n: number): Promise<number> {
  return n + 1;
}
