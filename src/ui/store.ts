// store.ts — the dashboard's one store: the answers of the dashboard routes the open page reads, fetched
// again whenever the watch stream says an entry was applied (and every second regardless, so that a node
// that stopped applying, or a peer that died, shows without any entry), and shared by every component.
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, getJson, watch } from './api.js';

/** REFRESH_MS is how often every resource is fetched again without an event (the cluster page: CLUSTER_REFRESH_MS). */
export const REFRESH_MS = 1000;
export const CLUSTER_REFRESH_MS = 400;
/** EVENT_DEBOUNCE_MS groups the refreshes a burst of applied entries asks for. */
const EVENT_DEBOUNCE_MS = 50;
/** WATCH_RETRY_MS is the wait before the watch stream is opened again after it ended. */
const WATCH_RETRY_MS = 1000;

/** Resource is one path's latest answer, or why there is none. */
export interface Resource<T> {
  value: T | undefined;
  error: ApiFailure | undefined;
  /** fetchedMs is when the value was last fetched (browser clock). */
  fetchedMs: number;
}

type Listener = () => void;

/** Store holds the resources in use and the state of the watch stream. */
class Store {
  readonly resources = new Map<string, Resource<unknown>>();
  private readonly users = new Map<string, number>();
  private readonly listeners = new Set<Listener>();
  private readonly inFlight = new Set<string>();
  private debounce: number | undefined;
  watching = false;
  lastEventIndex = 0;

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  use(path: string): () => void {
    this.users.set(path, (this.users.get(path) ?? 0) + 1);
    void this.fetch(path);
    return () => {
      const left = (this.users.get(path) ?? 1) - 1;
      if (left <= 0) this.users.delete(path);
      else this.users.set(path, left);
    };
  }

  /** refreshAll fetches every resource in use again (one request per path at a time). */
  refreshAll(): void {
    for (const path of this.users.keys()) void this.fetch(path);
  }

  /** applied is the watch stream's news: fetch again soon. */
  applied(index: number): void {
    this.lastEventIndex = Math.max(this.lastEventIndex, index);
    if (this.debounce !== undefined) return;
    this.debounce = window.setTimeout(() => {
      this.debounce = undefined;
      this.refreshAll();
    }, EVENT_DEBOUNCE_MS);
  }

  notify(): void {
    for (const listener of this.listeners) listener();
  }

  private async fetch(path: string): Promise<void> {
    if (this.inFlight.has(path)) return;
    this.inFlight.add(path);
    const previous = this.resources.get(path);
    try {
      const value = await getJson<unknown>(path);
      this.resources.set(path, { value, error: undefined, fetchedMs: Date.now() });
    } catch (error) {
      const failure = error instanceof ApiFailure ? error : new ApiFailure(0, String(error));
      this.resources.set(path, { value: previous?.value, error: failure, fetchedMs: previous?.fetchedMs ?? 0 });
    } finally {
      this.inFlight.delete(path);
      this.notify();
    }
  }
}

/** store is the page's one store. */
export const store = new Store();

/** startStore opens the watch stream (again whenever it ends) and the periodic refresh. */
export function startStore(): void {
  window.setInterval(() => store.refreshAll(), REFRESH_MS);
  const loop = async (): Promise<void> => {
    for (;;) {
      const controller = new AbortController();
      try {
        await watch((index) => store.applied(index), () => {
          store.watching = true;
          store.notify();
        }, controller.signal);
      } catch {
        // The stream failed (node down, no token yet): the periodic refresh shows why; retry below.
      }
      store.watching = false;
      store.notify();
      await new Promise((resolve) => window.setTimeout(resolve, WATCH_RETRY_MS));
    }
  };
  void loop();
}

/** useResource returns a path's resource, kept fresh while the component shows; `everyMs` adds a faster refresh. */
export function useResource<T>(path: string, everyMs?: number): Resource<T> {
  const [, setTick] = useState(0);
  useEffect(() => {
    const release = store.use(path);
    const unsubscribe = store.subscribe(() => setTick((n) => n + 1));
    const timer = everyMs === undefined ? undefined : window.setInterval(() => store.refreshAll(), everyMs);
    return () => {
      release();
      unsubscribe();
      if (timer !== undefined) window.clearInterval(timer);
    };
  }, [path, everyMs]);
  return (store.resources.get(path) as Resource<T> | undefined) ?? { value: undefined, error: undefined, fetchedMs: 0 };
}
