// sse.ts — a parser for server-sent events (the WHATWG "text/event-stream" format) as `qgate watch`
// receives them: fields `event`, `data` (joined with newlines), `id`; comments (keep-alives) ignored.
import { MAX_SSE_EVENT_CHARS } from './constants.js';
import { CliError } from './errors.js';

/** SseEvent is one dispatched event. */
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/** SseParser turns chunks of text into events; it holds at most one partial event. */
export class SseParser {
  private buffer = '';
  private eventName = '';
  private data: string[] = [];
  private dataChars = 0;
  private id: string | undefined;

  /** push feeds a chunk and returns the events it completed. */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (match === null) break;
      // A lone \r at the end of the buffer may be the first half of \r\n: wait for more.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event !== undefined) events.push(event);
    }
    if (this.buffer.length + this.dataChars > MAX_SSE_EVENT_CHARS) {
      throw new CliError('UNAVAILABLE', `watch: an event exceeds ${MAX_SSE_EVENT_CHARS} characters`);
    }
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.eventName = '';
        return undefined;
      }
      const event = { event: this.eventName === '' ? 'message' : this.eventName, data: this.data.join('\n'), id: this.id };
      this.eventName = '';
      this.data = [];
      this.dataChars = 0;
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.eventName = value;
    else if (field === 'data') {
      this.data.push(value);
      this.dataChars += value.length + 1;
    } else if (field === 'id' && !value.includes('\0')) this.id = value;
    return undefined;
  }
}
