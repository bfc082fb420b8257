/** JSON schemas shared by the routes; they drive validation, serialization and /openapi.json. */

export const errorSchema = {
  $id: 'ApiError',
  type: 'object',
  description:
    'Every error. `error` is a human-readable message (Open Inference Protocol compatible); `code` is stable; `details` name the instance index and field.',
  properties: {
    error: { type: 'string' },
    code: { type: 'string' },
    request_id: { type: 'string' },
    model_version: { type: 'string' },
    reason: { type: 'string', description: '503 model_not_ready only: why no model serves (as in /v2/health/ready)' },
    details: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          instance: { type: 'integer' },
          field: { type: ['string', 'null'] },
          reason: { type: 'string' },
          message: { type: 'string' },
        },
      },
    },
  },
  required: ['error', 'code', 'request_id'],
} as const;

export const errorResponses = {
  '4xx': { $ref: 'ApiError#' },
  '5xx': { $ref: 'ApiError#' },
} as const;

export const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 63 } },
  required: ['name'],
} as const;

export const versionParams = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 63 }, version: { type: 'string', maxLength: 128 } },
  required: ['name', 'version'],
} as const;
