// timer-heap.ts — a binary min-heap of time-in-state deadlines, ordered totally by (dueMs, deviceId,
// epoch) so that pops come out in the same order on every node whatever the insertion history.
// Entries of a device that has since changed state are left in place and skipped when popped (their
// epoch is stale); the engine rebuilds the heap when stale entries outnumber live ones.

/** TimerEntry is one deadline: re-evaluate `deviceId`'s time rules at `dueMs` if `epoch` is current. */
export interface TimerEntry {
  dueMs: number;
  deviceId: string;
  epoch: number;
}

function before(a: TimerEntry, b: TimerEntry): boolean {
  if (a.dueMs !== b.dueMs) return a.dueMs < b.dueMs;
  if (a.deviceId !== b.deviceId) return a.deviceId < b.deviceId;
  return a.epoch < b.epoch;
}

/** TimerHeap is a min-heap of TimerEntry. */
export class TimerHeap {
  private readonly items: TimerEntry[] = [];

  /** size is the number of entries, stale ones included. */
  get size(): number {
    return this.items.length;
  }

  /** push adds an entry. */
  push(entry: TimerEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const child = items[i] as TimerEntry;
      const up = items[parent] as TimerEntry;
      if (!before(child, up)) break;
      items[i] = up;
      items[parent] = child;
      i = parent;
    }
  }

  /** peek returns the earliest entry without removing it. */
  peek(): TimerEntry | undefined {
    return this.items[0];
  }

  /** pop removes and returns the earliest entry. */
  pop(): TimerEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && before(items[left] as TimerEntry, items[smallest] as TimerEntry)) smallest = left;
      if (right < items.length && before(items[right] as TimerEntry, items[smallest] as TimerEntry)) smallest = right;
      if (smallest === i) break;
      const swap = items[i] as TimerEntry;
      items[i] = items[smallest] as TimerEntry;
      items[smallest] = swap;
      i = smallest;
    }
    return top;
  }

  /** clear removes every entry. */
  clear(): void {
    this.items.length = 0;
  }
}
