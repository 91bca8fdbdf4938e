// edge-errors.ts — answers for requests refused before any route runs, in the documented error
// shape ({"error": {"code", "message"}}, docs/api.md) instead of Fastify's and Node's own bodies.
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, errorBody } from './errors.js';

/** frameworkErrorHandler answers Fastify's router errors: a path parameter too long (414), a bad URL (400). */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const apiError = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? new ApiError('URI_TOO_LONG', 'path: expected each path parameter to be at most 100 characters, got a longer one')
    : new ApiError('BAD_REQUEST', `request: ${error.message}`);
  void reply.status(apiError.statusCode).send(errorBody(apiError));
}

/** ConnectionError is what Node's HTTP server reports on 'clientError'. */
type ConnectionError = Error & { code?: string };

/**
 * clientErrorHandler answers what Node's HTTP parser refuses (headers or request line over
 * maxHeaderSize: 431; a request that timed out: 408; anything else malformed: 400), then closes the
 * connection, as Node's default handler does.
 */
export function clientErrorHandler(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const apiError = clientApiError(error.code);
  if (socket.writable) {
    const body = JSON.stringify(errorBody(apiError));
    const reason = apiError.statusCode === 431 ? 'Request Header Fields Too Large' : apiError.statusCode === 408 ? 'Request Timeout' : 'Bad Request';
    socket.write(`HTTP/1.1 ${apiError.statusCode} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

function clientApiError(code: string | undefined): ApiError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError('HEADERS_TOO_LARGE', 'headers: expected the request line and headers to fit the server limit, got more');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError('REQUEST_TIMEOUT', 'request: expected the whole request within the server timeout, got less');
    default:
      return new ApiError('BAD_REQUEST', `request: expected a well-formed HTTP/1.1 request, got one the parser refused (${code ?? 'unknown error'})`);
  }
}
