// touched-map.ts — a Map and a Set that remember which keys were touched since the last drain, so that the
// incremental state hash (state-hash.ts) rehashes only what apply may have changed.

/**
 * TouchedMap is a Map that records every key passed to set, delete and get (get too, because a value read
 * by get may then be changed in place). Invariant kept by its users: a value changed in place is reached
 * through get (or written back with set), never through iteration; peek reads without recording, for
 * readers that change nothing (snapshots, hashing).
 */
export class TouchedMap<K, V> extends Map<K, V> {
  /** touched holds the keys touched since the last takeTouched(). */
  private touched = new Set<K>();

  override set(key: K, value: V): this {
    // Map's constructor calls set before the subclass fields exist.
    this.touched?.add(key);
    return super.set(key, value);
  }

  override delete(key: K): boolean {
    this.touched.add(key);
    return super.delete(key);
  }

  override get(key: K): V | undefined {
    this.touched.add(key);
    return super.get(key);
  }

  override clear(): void {
    for (const key of super.keys()) this.touched.add(key);
    super.clear();
  }

  /** peek is get without recording the key (for readers that change nothing). */
  peek(key: K): V | undefined {
    return super.get(key);
  }

  /** takeTouched returns the keys touched since the last call and forgets them. */
  takeTouched(): Set<K> {
    const touched = this.touched;
    this.touched = new Set();
    return touched;
  }
}

/** TouchedSet is a Set that records every member added or deleted since the last drain. */
export class TouchedSet<T> extends Set<T> {
  /** touched holds the members added or deleted since the last takeTouched(). */
  private touched = new Set<T>();

  override add(value: T): this {
    // Set's constructor calls add before the subclass fields exist.
    this.touched?.add(value);
    return super.add(value);
  }

  override delete(value: T): boolean {
    this.touched.add(value);
    return super.delete(value);
  }

  override clear(): void {
    for (const value of super.values()) this.touched.add(value);
    super.clear();
  }

  /** takeTouched returns the members touched since the last call and forgets them. */
  takeTouched(): Set<T> {
    const touched = this.touched;
    this.touched = new Set();
    return touched;
  }
}
