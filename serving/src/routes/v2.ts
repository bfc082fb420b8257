import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LoadedModel } from '../bundle/model';
import { ApiError, invalidInstances } from '../errors';
import type { InferenceService, Served } from '../inference';
import { errorResponses, nameParams, versionParams } from '../schemas';

const NUMERIC_TYPES = new Set(['FP16', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);
const DATATYPES = [...NUMERIC_TYPES, 'BOOL', 'BYTES'];

interface TensorIn {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}
interface InferBody {
  id?: string;
  inputs: TensorIn[];
  outputs?: Array<{ name: string }>;
}

const tensorMetadata = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    datatype: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' } },
  },
} as const;

const modelMetadataSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    platform: { type: 'string' },
    inputs: { type: 'array', items: tensorMetadata },
    outputs: { type: 'array', items: tensorMetadata },
  },
} as const;

const inferBodySchema = {
  type: 'object',
  required: ['inputs'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', maxLength: 128 },
    parameters: { type: 'object' },
    inputs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'shape', 'datatype', 'data'],
        additionalProperties: false,
        properties: {
          name: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1, maxItems: 2 },
          datatype: { type: 'string', enum: DATATYPES },
          data: { type: 'array' },
          parameters: { type: 'object' },
        },
      },
    },
    outputs: {
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters: { type: 'object' } } },
    },
  },
} as const;

const inferResponseSchema = {
  type: 'object',
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    id: { type: 'string' },
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          datatype: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer' } },
          data: { type: 'array', items: { type: ['number', 'string'] } },
        },
      },
    },
  },
} as const;

function metadata(model: LoadedModel, versions: string[]) {
  const m = model.manifest;
  const outputs = [{ name: m.model.output_name, datatype: 'FP32', shape: [-1, model.outputWidth] }];
  if (m.task !== 'regression') outputs.push({ name: 'label', datatype: 'BYTES', shape: [-1] });
  return {
    name: m.name,
    versions,
    platform: 'onnxruntime_onnx',
    inputs: [
      ...m.features.map((f) => ({ name: f.name, datatype: f.type === 'numeric' ? 'FP64' : 'BYTES', shape: [-1] })),
    ],
    outputs,
  };
}

function flatten(t: TensorIn): unknown[] {
  return t.data.length && Array.isArray(t.data[0]) ? (t.data as unknown[]).flat(Infinity) : t.data;
}

/**
 * Decodes the request into a float32 matrix. Two forms: one tensor named like the model input
 * ([N, D], already preprocessed), or one tensor per feature ([N] or [N, 1], raw values,
 * preprocessed from the manifest like /v1).
 */
function decode(
  body: InferBody,
  model: LoadedModel,
  maxBatch: number,
): { data: Float32Array; rows: number; instances: Array<Record<string, unknown>> | null } {
  const dim = model.preprocessor.dim;
  const inputName = model.manifest.model.input_name;
  const checkRows = (rows: number, at: string) => {
    if (rows === 0) throw new ApiError(400, 'empty_batch', `${at}: batch dimension must be at least 1`);
    if (rows > maxBatch) throw new ApiError(413, 'batch_too_large', `${at}: ${rows} rows, at most ${maxBatch} per request`);
  };
  if (body.inputs.length === 1 && body.inputs[0]!.name === inputName) {
    const t = body.inputs[0]!;
    const at = `inputs[0] (${t.name})`;
    if (t.datatype !== 'FP32' && t.datatype !== 'FP64')
      throw new ApiError(400, 'wrong_datatype', `${at}: datatype must be FP32 or FP64, got ${t.datatype}`);
    if (t.shape.length !== 2 || t.shape[1] !== dim)
      throw new ApiError(400, 'wrong_shape', `${at}: shape must be [N, ${dim}], got [${t.shape.join(', ')}]`);
    const rows = t.shape[0]!;
    checkRows(rows, at);
    const flat = flatten(t);
    if (flat.length !== rows * dim)
      throw new ApiError(400, 'wrong_shape', `${at}: shape [${t.shape.join(', ')}] needs ${rows * dim} values, got ${flat.length}`);
    const data = new Float32Array(rows * dim);
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new ApiError(400, 'wrong_type', `${at}: data[${i}] (instance ${Math.floor(i / dim)}) must be a finite number`);
      data[i] = v;
    }
    return { data, rows, instances: null };
  }
  const features = new Map(model.manifest.features.map((f) => [f.name, f] as const));
  let rows = -1;
  const columns: Array<{ name: string; values: unknown[] }> = [];
  const seen = new Set<string>();
  body.inputs.forEach((t, i) => {
    const at = `inputs[${i}] (${t.name})`;
    const f = features.get(t.name);
    if (!f)
      throw new ApiError(400, 'unknown_feature', `${at}: not a feature of this model, nor its input tensor "${inputName}"`, [
        { instance: 0, field: t.name, reason: 'unknown_feature', message: 'is not a feature of this model' },
      ]);
    if (seen.has(t.name)) throw new ApiError(400, 'duplicate_input', `${at}: given twice`);
    seen.add(t.name);
    if (f.type === 'categorical' ? t.datatype !== 'BYTES' : !NUMERIC_TYPES.has(t.datatype))
      throw new ApiError(400, 'wrong_datatype', `${at}: datatype must be ${f.type === 'categorical' ? 'BYTES' : 'a numeric type'}, got ${t.datatype}`);
    if (t.shape.length === 2 && t.shape[1] !== 1)
      throw new ApiError(400, 'wrong_shape', `${at}: shape must be [N] or [N, 1], got [${t.shape.join(', ')}]`);
    const n = t.shape[0]!;
    if (rows === -1) rows = n;
    else if (n !== rows) throw new ApiError(400, 'wrong_shape', `${at}: batch dimension ${n} differs from the first input's ${rows}`);
    const values = flatten(t);
    if (values.length !== n) throw new ApiError(400, 'wrong_shape', `${at}: shape [${t.shape.join(', ')}] needs ${n} values, got ${values.length}`);
    columns.push({ name: t.name, values });
  });
  checkRows(rows, 'inputs');
  const instances: Array<Record<string, unknown>> = new Array(rows);
  for (let n = 0; n < rows; n++) {
    const inst: Record<string, unknown> = {};
    for (const c of columns) inst[c.name] = c.values[n];
    instances[n] = inst;
  }
  const encoded = model.preprocessor.encode(instances);
  if (encoded.errors) throw invalidInstances(encoded.errors);
  return { data: encoded.data, rows, instances };
}

/** Open Inference Protocol v2 (KServe / Triton / MLServer) model endpoints. */
export function v2Routes(app: FastifyInstance, svc: InferenceService, opts: { maxBatch: number }): void {
  const versions = () => svc.registry.loaded().map((l) => l.entry.model.version);

  const modelMeta = async (request: FastifyRequest<{ Params: { name: string; version?: string } }>) => {
    const served = svc.resolve(request, request.params.name, request.params.version);
    return metadata(served.entry.model, versions());
  };
  const modelReady = async (request: FastifyRequest<{ Params: { name: string; version?: string } }>) => {
    const served = svc.resolve(request, request.params.name, request.params.version);
    return { name: served.entry.model.name, ready: true };
  };
  const readySchema = { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } } as const;

  for (const [path, params] of [
    ['/v2/models/:name', nameParams],
    ['/v2/models/:name/versions/:version', versionParams],
  ] as const) {
    app.get(path, { schema: { tags: ['v2'], params, response: { 200: modelMetadataSchema, ...errorResponses } } }, modelMeta);
    app.get(`${path}/ready`, { schema: { tags: ['v2'], params, response: { 200: readySchema, ...errorResponses } } }, modelReady);
    app.post<{ Params: { name: string; version?: string }; Body: InferBody }>(
      `${path}/infer`,
      {
        config: { auth: true, inference: 'infer' },
        schema: {
          tags: ['v2'],
          summary: 'Open Inference Protocol v2 inference',
          params,
          body: inferBodySchema,
          response: { 200: inferResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const served: Served = svc.resolve(request, request.params.name, request.params.version);
        const model = served.entry.model;
        const body = request.body;
        const wanted = body.outputs?.map((o) => o.name);
        const outName = model.manifest.model.output_name;
        const classification = model.manifest.task !== 'regression';
        for (const w of wanted ?? [])
          if (w !== outName && !(classification && w === 'label'))
            throw new ApiError(400, 'unknown_output', `outputs: "${w}" is not an output of this model`);
        const { data, rows, instances } = decode(body, model, opts.maxBatch);
        const { output, offset, lowConfidence, confidenceSum, confidenceCount } = await svc.run(served, data, rows, instances);
        request.lowConfidence = lowConfidence;
        request.confidenceSum = confidenceSum;
        request.confidenceCount = confidenceCount;
        request.instances = rows;
        const width = model.outputWidth;
        const outputs: Array<{ name: string; datatype: string; shape: number[]; data: Array<number | string> }> = [];
        if (!wanted || wanted.includes(outName))
          outputs.push({
            name: outName,
            datatype: 'FP32',
            shape: [rows, width],
            data: Array.from(output.subarray(offset * width, (offset + rows) * width)),
          });
        if (classification && (!wanted || wanted.includes('label'))) {
          const labels: string[] = new Array(rows);
          for (let n = 0; n < rows; n++) labels[n] = model.describe(output, offset + n).label!;
          outputs.push({ name: 'label', datatype: 'BYTES', shape: [rows], data: labels });
        }
        return { model_name: model.name, model_version: model.version, id: body.id ?? request.id, outputs };
      },
    );
  }
}
