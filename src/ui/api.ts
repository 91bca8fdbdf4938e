// api.ts — the dashboard's only way to the node: GET requests and the watch stream, each carrying the
// bearer token (the page signs nothing and writes nothing).
import { EventSourceParserStream } from 'eventsource-parser/stream';

/** TOKEN_KEY is where the token lives for this tab (sessionStorage: gone when the tab closes). */
const TOKEN_KEY = 'qgate.token';

/** ApiFailure is a failed request: the HTTP status (0 when the node did not answer) and the node's message. */
export class ApiFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** takeTokenFromFragment moves `#token=...` from the address into sessionStorage and removes it from the address bar. */
export function takeTokenFromFragment(): void {
  const match = /^#token=([^&]+)(?:&(.*))?$/.exec(window.location.hash);
  if (match === null) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]!));
  const rest = match[2] !== undefined && match[2].startsWith('/') ? `#${match[2]}` : '#/devices';
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}${rest}`);
}

/** token is the bearer token of this tab, '' when none was entered. */
export function token(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

/** setToken stores (or, with '', forgets) the token of this tab. */
export function setToken(value: string): void {
  if (value === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

function headers(): Record<string, string> {
  const t = token();
  return t === '' ? {} : { authorization: `Bearer ${t}` };
}

/** getJson GETs a path of this node's API; a failure names the status and the node's message. */
export async function getJson<T>(path: string, timeoutMs = 3000): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { headers: headers(), signal: AbortSignal.timeout(timeoutMs), cache: 'no-store' });
  } catch (error) {
    throw new ApiFailure(0, `this node did not answer ${path}: ${(error as Error).message}`);
  }
  const body = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
  if (!response.ok) throw new ApiFailure(response.status, body?.error?.message ?? `${path} answered ${response.status}`);
  return body as T;
}

/**
 * watch reads GET /v1/watch (server-sent events, through fetch so the token travels in a header) and calls
 * `onApplied` for every applied entry, until `signal` aborts; it resolves when the stream ends or fails.
 */
export async function watch(onApplied: (index: number) => void, onOpen: () => void, signal: AbortSignal): Promise<void> {
  const response = await fetch('/v1/watch', { headers: { ...headers(), accept: 'text/event-stream' }, signal, cache: 'no-store' });
  if (!response.ok || response.body === null) throw new ApiFailure(response.status, `the watch stream answered ${response.status}`);
  onOpen();
  const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  const reader = events.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if (value.event === 'applied') onApplied(Number(value.id ?? 0));
  }
}
