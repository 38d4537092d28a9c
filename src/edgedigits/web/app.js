// The page: camera (or a still image) -> the reader -> boxes and numbers drawn over the view, the
// numbers listed below. Every frame's result is on `window.edgedigits.lastResult`, in the schema of
// `edgedigits detect --json`, for tests and tools; `?image=URL` reads that image instead of the camera.
import { loadModel } from './model.js';
import { toJson } from './reader/lines.js';
import { Reader } from './reader/reader.js';
import { LabelStabilizer } from './reader/tracker.js';

/** @typedef {import('./reader/types.js').Recognition} Recognition */
/** @typedef {import('./reader/types.js').Box} Box */

/**
 * @typedef {object} PageState  what tests and tools read from the page
 * @property {Record<string, unknown> | null} lastResult  the last frame's result (`detect --json` schema)
 * @property {Promise<void>} ready  resolves once the model is loaded (rejects when it cannot be)
 * @property {import('./reader/types.js').Predict | null} predict  the model, batched (for proof)
 * @property {(url: string, video?: boolean) => Promise<Record<string, unknown> | null>} read  reads an
 *   image as a still, or (`video`) as the next frame of a video, tracked and voted like the camera's
 * @property {string | null} error  the message shown when something failed
 */

const params = new URLSearchParams(location.search);
const base = new URL('./', location.href);
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const view = /** @type {HTMLCanvasElement} */ ($('view'));
const video = /** @type {HTMLVideoElement} */ ($('video'));
const work = document.createElement('canvas');  // the frame as pixels, at its own resolution
const workCtx = /** @type {CanvasRenderingContext2D} */ (work.getContext('2d', { willReadFrequently: true }));
const viewCtx = /** @type {CanvasRenderingContext2D} */ (view.getContext('2d'));

/** @type {PageState} */
const state = { lastResult: null, ready: Promise.resolve(), predict: null, read: readImage, error: null };
/** @type {any} */ (window).edgedigits = state;

/** @param {string} text */
function showMessage(text) {
  state.error = text;
  const el = $('message');
  el.textContent = text;
  el.hidden = false;
}
/** @param {string} text */
const setStatus = (text) => { $('status').textContent = text; };

/** @type {Reader | null} */
let reader = null;
/** @type {import('./model.js').Contract | null} */
let contract = null;
/** @type {LabelStabilizer | null} */
let stabilizer = null;
let frameIndex = 0;
let facing = params.get('camera') === 'user' ? 'user' : 'environment';
let paused = false;
/** @type {MediaStream | null} */
let stream = null;
let cameraTurn = 0;  // which start of the camera is the current one

function stopCamera() {
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
}

/**
 * Read one frame's pixels and show what was read.
 * @param {CanvasImageSource} source
 * @param {number} width
 * @param {number} height
 * @param {string} name
 */
async function readFrame(source, width, height, name) {
  if (!reader) return;
  if (work.width !== width || work.height !== height) { work.width = width; work.height = height; }
  workCtx.drawImage(source, 0, 0, width, height);
  const pixels = workCtx.getImageData(0, 0, width, height);
  const t0 = performance.now();
  let result = await reader.recognizeRGBA(pixels.data, width, height);
  if (stabilizer) result = stabilizer.update(result);
  const ms = performance.now() - t0;
  state.lastResult = { frame: frameIndex++, source: name, ...toJson(result), ms: Math.round(ms * 1000) / 1000 };
  draw(result);
  list(result);
  setStatus(`${result.lines.length} numbers · ${ms.toFixed(1)} ms a frame`);
}

/** @param {Recognition} result */
function draw(result) {
  if (view.width !== work.width || view.height !== work.height) { view.width = work.width; view.height = work.height; }
  viewCtx.drawImage(work, 0, 0);
  const scale = Math.max(1, Math.min(view.width, view.height) / 480);
  /** @param {Box} b @param {string} color @param {number} width @param {number} pad */
  const rect = (b, color, width, pad = 0) => {
    viewCtx.strokeStyle = color;
    viewCtx.lineWidth = width;
    viewCtx.strokeRect(b[0] - pad, b[1] - pad, b[2] + 2 * pad, b[3] + 2 * pad);
  };
  viewCtx.setLineDash([4 * scale, 3 * scale]);
  for (const line of result.partial) rect(line.box, '#9ca3af', scale, 4);  // cut by the frame's edge
  viewCtx.setLineDash([]);
  for (const d of result.digits) rect(d.box, '#16a34a', 2 * scale);
  viewCtx.font = `bold ${Math.round(18 * scale)}px ui-monospace, monospace`;
  viewCtx.textBaseline = 'bottom';
  for (const line of result.lines) {
    const [x, y] = line.box;
    const w = viewCtx.measureText(line.text).width + 8 * scale;
    const top = Math.max(0, y - 26 * scale);  // above the number, or inside the frame at its top edge
    viewCtx.fillStyle = '#16a34a';
    viewCtx.fillRect(x - 4, top, w, 22 * scale);
    viewCtx.fillStyle = '#ffffff';
    viewCtx.fillText(line.text, x - 4 + 4 * scale, top + 20 * scale);
  }
}

/** @param {Recognition} result */
function list(result) {
  const items = result.lines.map((line) => {
    const li = document.createElement('li');
    li.textContent = line.text;
    if (line.votes !== undefined) {
      const votes = document.createElement('span');
      votes.className = 'votes';
      votes.textContent = `${line.votes}/${line.frames}`;
      li.append(votes);
    }
    return li;
  });
  $('numbers').replaceChildren(...items);
  /** @type {HTMLButtonElement} */ ($('copy')).disabled = items.length === 0;
}

/**
 * An image URL read as a still, or as the next frame of a video (tracked and voted, as the camera's).
 * @param {string} url
 * @param {boolean} [video]
 */
async function readImage(url, video = false) {
  await state.ready;
  if (!video) return readStill(url, url);
  if (!stabilizer && contract) stabilizer = new LabelStabilizer(contract.reader.tracker, contract.reader.lines);
  const bitmap = await createImageBitmap(await (await fetch(url)).blob());
  await readFrame(bitmap, bitmap.width, bitmap.height, url);
  return state.lastResult;
}

/** A still image: the URL of `?image=`, or a photo the user picked. @param {Blob | string} image @param {string} name */
async function readStill(image, name) {
  stabilizer = null;  // a still is read as it is, without votes over frames
  try {
    await state.ready;
    const blob = typeof image === 'string' ? await (await fetch(image)).blob() : image;
    const bitmap = await createImageBitmap(blob);
    await readFrame(bitmap, bitmap.width, bitmap.height, name);
  } catch (err) {
    showMessage(`Could not read that image (${errorText(err)}).`);
  }
  return state.lastResult;
}

/** @param {unknown} err */
const errorText = (err) => (err instanceof Error ? err.message : String(err));

/** The live camera, rear by default; frames are read one after another, never overlapping. */
async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    showMessage('This page has no camera access here: browsers give the camera only to https:// pages '
      + '(or http://localhost). Use `edgedigits serve --cert …`, or read a photo below.');
    return;
  }
  const turn = ++cameraTurn;  // a later switch, or a photo, supersedes this start
  stopCamera();
  let got;
  try {
    got = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: facing } }, audio: false });
  } catch (err) {
    const name = err instanceof DOMException ? err.name : '';
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      showMessage('Camera access was denied. Allow the camera for this site in the browser\'s settings, '
        + 'or read a photo below.');
    } else if (name === 'NotFoundError' || name === 'OverconstrainedError') {
      showMessage('No camera was found on this device. Read a photo below instead.');
    } else {
      showMessage(`The camera could not start (${errorText(err)}). Read a photo below instead.`);
    }
    return;
  }
  if (turn !== cameraTurn) {  // superseded while the camera was being asked for
    got.getTracks().forEach((t) => t.stop());
    return;
  }
  stream = got;
  $('message').hidden = true;
  state.error = null;
  video.srcObject = stream;
  await video.play();
  stabilizer = contract && new LabelStabilizer(contract.reader.tracker, contract.reader.lines);
  for (const id of ['switch', 'pause']) /** @type {HTMLButtonElement} */ ($(id)).disabled = false;
  const mine = stream;
  const tick = async () => {
    if (stream !== mine || !mine.active) return;  // switched or stopped: this loop ends
    if (!paused && video.videoWidth > 0) {
      try {
        await readFrame(video, video.videoWidth, video.videoHeight, 'camera');
      } catch (err) {
        showMessage(`Reading the frame failed (${errorText(err)}).`);
        return;
      }
    }
    requestAnimationFrame(() => { tick(); });
  };
  tick();
}

function wireControls() {
  $('switch').addEventListener('click', () => {
    facing = facing === 'environment' ? 'user' : 'environment';
    startCamera().catch((err) => showMessage(`The camera stopped (${errorText(err)}).`));
  });
  $('pause').addEventListener('click', () => {
    paused = !paused;
    $('pause').textContent = paused ? 'Resume' : 'Pause';
  });
  $('photo').addEventListener('change', (event) => {
    const file = /** @type {HTMLInputElement} */ (event.target).files?.[0];
    if (!file) return;
    cameraTurn++;  // a camera still starting is not started any more
    stopCamera();
    readStill(file, file.name);
  });
  $('copy').addEventListener('click', () => {
    const text = [...$('numbers').children].map((li) => li.firstChild?.textContent ?? '').join('\n');
    const refused = () => showMessage('Copying is not allowed here; select the numbers instead.');
    if (navigator.clipboard) navigator.clipboard.writeText(text).catch(refused);
    else refused();  // no clipboard API on plain http
  });
}

/** Load the contract and the model; what the page reads is started once they are in. */
async function load() {
  wireControls();
  if ('serviceWorker' in navigator && !params.has('nosw')) {
    navigator.serviceWorker.register('sw.js').catch((err) => console.warn(`offline cache unavailable: ${errorText(err)}`));
  }
  try {
    const model = await loadModel(base);
    contract = model.contract;
    state.predict = model.predict;
    reader = new Reader(contract, model.predict, params.get('polarity') ?? 'dark-on-light');
  } catch (err) {
    showMessage(`The model could not be loaded (${errorText(err)}). Re-export it with \`edgedigits export --formats web\`.`);
    setStatus('No model');
    throw err;
  }
  setStatus('Ready');
}

state.ready = load();
state.ready.then(() => {
  const image = params.get('image');
  if (image !== null) readStill(image, image);
  else if (!params.has('proof')) startCamera().catch((err) => showMessage(`The camera stopped (${errorText(err)}).`));
}, () => {});  // the failure is shown in the page; `ready` still rejects for tests and tools
