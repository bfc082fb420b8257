const { TestEnvironment } = require('jest-environment-node');

/**
 * ONNX Runtime's native binding creates its output typed arrays in Node's main realm, while
 * jest runs each test file in a realm of its own, so onnxruntime-common's
 * `data instanceof Float32Array` check fails there (it never fails in a real process). Test
 * files that run ONNX Runtime in-process (`@jest-environment ./test/helpers/onnx-environment.js`)
 * share the main realm's typed array constructors.
 *
 * `Date` too: fs.Stats dates are the main realm's, and node-tar writes a pax header's mtime
 * as `mtime instanceof Date ? seconds : String(mtime)`, so in jest's realm packing a long
 * name wrote a header GNU tar refuses (again, never in a real process).
 */
class OnnxEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of [
      'Float32Array',
      'Float64Array',
      'Int8Array',
      'Uint8Array',
      'Int16Array',
      'Uint16Array',
      'Int32Array',
      'Uint32Array',
      'BigInt64Array',
      'BigUint64Array',
      'ArrayBuffer',
      'Date',
    ]) {
      this.global[name] = globalThis[name];
    }
  }
}

module.exports = OnnxEnvironment;
