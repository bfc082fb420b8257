import type { FieldError } from './bundle/preprocess';

/** A client error with a stable code; the one error handler turns it into the JSON body. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: FieldError[],
    /** For 503 model_not_ready: why there is no model (the /v2/health/ready reason). */
    readonly reason?: string,
  ) {
    super(message);
  }
}

export function invalidInstances(errors: FieldError[]): ApiError {
  const first = errors[0]!;
  const where = `instances[${first.instance}]${first.field === null ? '' : `.${first.field}`}`;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new ApiError(422, first.reason, `${where}: ${first.message}${more}`, errors);
}
