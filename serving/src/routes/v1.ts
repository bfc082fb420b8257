import type { FastifyInstance } from 'fastify';
import { ApiError, invalidInstances } from '../errors';
import type { Prediction } from '../bundle/model';
import { type Claim, predictionId, score } from '../feedback';
import type { InferenceService } from '../inference';
import { errorResponses, nameParams } from '../schemas';

const predictionSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'Send it back with :feedback when the outcome is known' },
    label: { type: 'string' },
    probabilities: { type: 'object', additionalProperties: { type: 'number' } },
    confidence: { type: 'number' },
    value: { type: 'number', description: 'regression only' },
  },
} as const;

/** The friendly JSON API: named features in, labels and probabilities out. */
export function v1Routes(app: FastifyInstance, svc: InferenceService, opts: { maxBatch: number }): void {
  app.post<{ Params: { name: string }; Body: { instances: unknown[] } }>(
    '/v1/models/:name(^[a-z0-9-]+)::predict',
    {
      config: { auth: true, inference: 'predict' },
      schema: {
        tags: ['v1'],
        summary: 'Predict one or more instances given as named raw features',
        params: nameParams,
        body: {
          type: 'object',
          required: ['instances'],
          additionalProperties: false,
          properties: {
            instances: { type: 'array', description: `1..${opts.maxBatch} objects of named raw features` },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              predictions: { type: 'array', items: predictionSchema },
              model_name: { type: 'string' },
              model_version: { type: 'string' },
              request_id: { type: 'string' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { instances } = request.body;
      if (instances.length === 0) throw new ApiError(400, 'empty_batch', 'instances: must contain at least 1 instance');
      if (instances.length > opts.maxBatch)
        throw new ApiError(413, 'batch_too_large', `instances: ${instances.length} instances, at most ${opts.maxBatch} per request`);
      const served = svc.resolve(request, request.params.name);
      const model = served.entry.model;
      const encoded = model.preprocessor.encode(instances);
      if (encoded.errors) throw invalidInstances(encoded.errors);
      const rows = instances.length;
      const { output, offset, lowConfidence, confidenceSum, confidenceCount } = await svc.run(
        served,
        encoded.data,
        rows,
        instances as Array<Record<string, unknown>>,
      );
      request.lowConfidence = lowConfidence;
      request.confidenceSum = confidenceSum;
      request.confidenceCount = confidenceCount;
      request.instances = rows;
      const predictions: Array<Prediction & { id: string }> = new Array(rows);
      const regression = model.manifest.task === 'regression';
      const remembered: Array<string | number> = new Array(rows);
      for (let n = 0; n < rows; n++) {
        const p = model.describe(output, offset + n) as Prediction & { id: string };
        p.id = predictionId(request.id, n);
        predictions[n] = p;
        remembered[n] = regression ? p.value! : p.label!;
      }
      svc.predictions.remember(request.id, {
        model: model.name,
        version: model.version,
        ...(regression ? { values: remembered as number[] } : { labels: remembered as string[] }),
        ...(model.manifest.output.positive_label !== undefined ? { positive: model.manifest.output.positive_label } : {}),
      });
      if (svc.capture?.sampled())
        svc.capture.offer({
          ts: new Date().toISOString(),
          request_id: request.id,
          model: model.name,
          version: model.version,
          instances,
          predictions,
        });
      return { predictions, model_name: model.name, model_version: model.version, request_id: request.id };
    },
  );

  app.post<{ Params: { name: string }; Body: { prediction_id: string; actual: string | number } }>(
    '/v1/models/:name(^[a-z0-9-]+)::feedback',
    {
      config: { auth: true, inference: 'feedback' },
      schema: {
        tags: ['v1'],
        summary: 'Ground truth for an earlier prediction (live accuracy)',
        params: nameParams,
        body: {
          type: 'object',
          required: ['prediction_id', 'actual'],
          additionalProperties: false,
          properties: {
            prediction_id: { type: 'string', minLength: 1, maxLength: 200 },
            actual: { type: ['string', 'number'], description: 'the true label (classification) or value (regression)' },
          },
        },
        response: {
          202: {
            type: 'object',
            properties: {
              matched: { type: 'boolean' },
              reason: { type: 'string', enum: ['already_counted', 'unknown_or_expired'], description: 'why it did not match' },
              correct: { type: 'boolean' },
              absolute_error: { type: 'number', description: 'regression: |actual - predicted|' },
              model_version: { type: 'string' },
              request_id: { type: 'string' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const served = svc.resolve(request, request.params.name);
      const { prediction_id, actual } = request.body;
      // The type is checked against the served model before the claim, so a bad request
      // never uses up a prediction's one feedback.
      const regression = served.entry.model.manifest.task === 'regression';
      if (regression && typeof actual !== 'number') throw new ApiError(400, 'wrong_type', 'actual: must be a number for a regression model');
      if (!regression && typeof actual !== 'string') throw new ApiError(400, 'wrong_type', 'actual: must be a label string for a classification model');
      const model = served.entry.model.name;
      let claim: Claim;
      try {
        claim = await svc.predictions.claim(prediction_id);
      } catch (e) {
        svc.metrics.feedback.inc({ model, version: '', result: 'store_error' });
        request.log.warn({ err: { name: (e as Error).name, message: (e as Error).message } }, 'feedback: prediction store unreachable');
        throw new ApiError(503, 'feedback_store_unavailable', 'the prediction store cannot be reached; send the feedback again later');
      }
      reply.code(202);
      if (claim.result !== 'matched') {
        svc.metrics.feedback.inc({ model, version: '', result: claim.result });
        return { matched: false, reason: claim.result === 'duplicate' ? 'already_counted' : 'unknown_or_expired', request_id: request.id };
      }
      request.served = { model: claim.model, version: claim.version };
      const labels = { model: claim.model, version: claim.version };
      const outcome = score(claim, actual);
      svc.emf?.recordFeedback(claim.model, claim.version, outcome);
      if (outcome.correct !== undefined) {
        svc.metrics.feedback.inc({ ...labels, result: outcome.correct ? 'correct' : 'incorrect' });
        svc.metrics.liveAccuracy.set(labels, svc.localAccuracy.tally(claim.version, outcome.correct));
        return { matched: true, correct: outcome.correct, model_version: claim.version, request_id: request.id };
      }
      svc.metrics.feedback.inc({ ...labels, result: 'matched' });
      return { matched: true, absolute_error: outcome.absoluteError, model_version: claim.version, request_id: request.id };
    },
  );
}
