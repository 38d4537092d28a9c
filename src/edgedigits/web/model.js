// The model and its contract: contract.json (written by `edgedigits export --formats web`) names the
// ONNX file, its input and output, its labels and rejection rule, and every setting of the reader.

/** @typedef {typeof import('onnxruntime-web')} Ort */
/** @typedef {import('./reader/types.js').Predict} Predict */

/**
 * @typedef {object} Contract
 * @property {string} model
 * @property {string} input
 * @property {string} output
 * @property {number} image_size
 * @property {string[]} labels
 * @property {string} input_polarity
 * @property {{score: string, threshold: number}} reject
 * @property {Record<string, string>} metadata
 * @property {any} reader
 */

/** @param {URL} url */
async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status}`);
  return response;
}

/**
 * Load the contract, onnxruntime-web (single-threaded WebAssembly, served beside the page: nothing
 * comes from a CDN) and the model; resolves to the contract and a batched `predict`.
 * @param {URL} base  the folder of the export
 * @returns {Promise<{contract: Contract, predict: Predict, ort: Ort}>}
 */
export async function loadModel(base) {
  /** @type {Contract} */
  const contract = await (await fetchOk(new URL('contract.json', base))).json();
  const ortUrl = new URL('ort/ort.wasm.min.mjs', base);
  /** @type {Ort} */
  const ort = await import(ortUrl.href);
  ort.env.wasm.wasmPaths = new URL('ort/', base).href;
  ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation, which static hosts rarely give
  ort.env.logLevel = 'error';
  const bytes = new Uint8Array(await (await fetchOk(new URL(contract.model, base))).arrayBuffer());
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const size = contract.image_size;
  /** @type {Predict} */
  const predict = async (batch, n) => {
    const tensor = new ort.Tensor('float32', batch, [n, 1, size, size]);
    const out = await session.run({ [contract.input]: tensor });
    return /** @type {Float32Array} */ (out[contract.output].data);
  };
  return { contract, predict, ort };
}
