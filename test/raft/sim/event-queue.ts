// event-queue.ts — the simulator's agenda: a binary min-heap of timed events.
//
// Ties on time are broken by insertion order (a sequence number), so the order in which events
// pop depends only on what was scheduled, never on heap internals: part of replaying a seed.

/** Timed is one scheduled item: it fires at `time`; `sequence` breaks ties in insertion order. */
interface Timed<T> {
  readonly time: number;
  readonly sequence: number;
  readonly item: T;
}

/** EventQueue is a bounded priority queue ordered by (time, insertion order). */
export class EventQueue<T> {
  private readonly heap: Timed<T>[] = [];
  private nextSequence = 0;

  constructor(private readonly capacity: number) {}

  /** size is the number of pending events. */
  get size(): number {
    return this.heap.length;
  }

  /** push schedules `item` at `time`; throws when the queue is full (a bound, TigerStyle). */
  push(time: number, item: T): void {
    if (this.heap.length >= this.capacity) {
      throw new RangeError(`EventQueue: more than ${this.capacity} pending events`);
    }
    const node: Timed<T> = { time, sequence: this.nextSequence++, item };
    const heap = this.heap;
    heap.push(node);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      swap(heap, i, parent);
      i = parent;
    }
  }

  /** pop removes and returns the earliest event, or undefined when empty. */
  pop(): { time: number; item: T } | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        swap(heap, i, smallest);
        i = smallest;
      }
    }
    return { time: top.time, item: top.item };
  }
}

function before<T>(a: Timed<T>, b: Timed<T>): boolean {
  return a.time < b.time || (a.time === b.time && a.sequence < b.sequence);
}

function swap<T>(heap: T[], i: number, j: number): void {
  const tmp = heap[i]!;
  heap[i] = heap[j]!;
  heap[j] = tmp;
}
