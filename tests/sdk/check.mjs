#!/usr/bin/env node
// Drives an Anthropic Messages API endpoint with the official SDK
// (@anthropic-ai/sdk) and checks what a real client sees: the text and usage of
// client.messages.create and of client.messages.stream (its text deltas and
// finalMessage()), the error class, status and error type of a failing call, a
// mid-stream error, and AuthenticationError for a bad key.
//
// Generic on purpose: it knows nothing of the fake, so the gateway's tests run
// it against the gateway. Every expectation comes from a flag (or env var);
// an expectation not given is not checked, but the SDK-level invariants
// always are (id "msg_...", type/role, the stream's deltas adding up to
// finalMessage's text, a stop_reason).
//
// Prints one JSON summary on stdout; exits 0 when every check passed, 1 on any
// mismatch, 2 on bad usage.
//
//   node check.mjs --base-url http://127.0.0.1:8090 --api-key k \
//     --prompt "hello" --expect-text "You said: hello" \
//     --expect-input-tokens 1 --expect-output-tokens 3 --expect-stop-reason end_turn \
//     --error-prompt "[[fault:529]]" --expect-error-status 529 \
//     --expect-error-type overloaded_error --bad-key nope
//
// Flags (env in brackets):
//   --base-url URL          [ANTHROPIC_BASE_URL]        endpoint root (no /v1)
//   --api-key K             [ANTHROPIC_API_KEY]         a key the endpoint accepts
//   --model M               [CHECK_MODEL]               default claude-3-5-sonnet-20241022
//   --max-tokens N          [CHECK_MAX_TOKENS]          default 1024
//   --system TEXT           [CHECK_SYSTEM]              optional system prompt
//   --prompt TEXT           [CHECK_PROMPT]              default "Hello from the SDK check"
//   --cases LIST            [CHECK_CASES]               comma list of create,stream,error,
//                                                      stream-error,auth,cancel (default: create,stream
//                                                      plus every case whose flags are given)
//   --expect-text TEXT      [CHECK_EXPECT_TEXT]         exact text of create and stream
//   --expect-input-tokens N [CHECK_EXPECT_INPUT_TOKENS]
//   --expect-output-tokens N [CHECK_EXPECT_OUTPUT_TOKENS]
//   --expect-stop-reason R  [CHECK_EXPECT_STOP_REASON]
//   --expect-deltas N       [CHECK_EXPECT_DELTAS]       number of text deltas in the stream
//   --error-prompt TEXT     [CHECK_ERROR_PROMPT]        prompt whose create call must fail
//   --expect-error-status N [CHECK_EXPECT_ERROR_STATUS] e.g. 529
//   --expect-error-type T   [CHECK_EXPECT_ERROR_TYPE]   e.g. overloaded_error
//   --expect-error-class C  [CHECK_EXPECT_ERROR_CLASS]  e.g. InternalServerError, RateLimitError
//   --stream-error-prompt TEXT [CHECK_STREAM_ERROR_PROMPT] prompt whose stream must fail midway
//   --expect-stream-error-type T [CHECK_EXPECT_STREAM_ERROR_TYPE] default overloaded_error
//   --bad-key K             [CHECK_BAD_KEY]             a key the endpoint refuses (auth case)
//   --cancel-prompt TEXT    [CHECK_CANCEL_PROMPT]       prompt of a long stream the cancel case
//                                                      aborts (stream.abort()) after some deltas
//   --cancel-after N        [CHECK_CANCEL_AFTER]        deltas to read before aborting (default 2)
//   --max-retries N         [CHECK_MAX_RETRIES]         for the success cases (default 0)
//   --timeout-ms N          [CHECK_TIMEOUT_MS]          per request (default 30000)
//   --header 'Name: value'  [CHECK_HEADERS, a JSON object] extra header on every request
//                                                      (repeatable), e.g. a gateway's own auth

import Anthropic from '@anthropic-ai/sdk';

const FLAGS = {
  'base-url': 'ANTHROPIC_BASE_URL',
  'api-key': 'ANTHROPIC_API_KEY',
  model: 'CHECK_MODEL',
  'max-tokens': 'CHECK_MAX_TOKENS',
  system: 'CHECK_SYSTEM',
  prompt: 'CHECK_PROMPT',
  cases: 'CHECK_CASES',
  'expect-text': 'CHECK_EXPECT_TEXT',
  'expect-input-tokens': 'CHECK_EXPECT_INPUT_TOKENS',
  'expect-output-tokens': 'CHECK_EXPECT_OUTPUT_TOKENS',
  'expect-stop-reason': 'CHECK_EXPECT_STOP_REASON',
  'expect-deltas': 'CHECK_EXPECT_DELTAS',
  'error-prompt': 'CHECK_ERROR_PROMPT',
  'expect-error-status': 'CHECK_EXPECT_ERROR_STATUS',
  'expect-error-type': 'CHECK_EXPECT_ERROR_TYPE',
  'expect-error-class': 'CHECK_EXPECT_ERROR_CLASS',
  'stream-error-prompt': 'CHECK_STREAM_ERROR_PROMPT',
  'expect-stream-error-type': 'CHECK_EXPECT_STREAM_ERROR_TYPE',
  'bad-key': 'CHECK_BAD_KEY',
  'cancel-prompt': 'CHECK_CANCEL_PROMPT',
  'cancel-after': 'CHECK_CANCEL_AFTER',
  'max-retries': 'CHECK_MAX_RETRIES',
  'timeout-ms': 'CHECK_TIMEOUT_MS',
  header: 'CHECK_HEADERS',
};

function usage(msg) {
  if (msg) process.stderr.write(`check.mjs: ${msg}\n`);
  process.stderr.write(`usage: node check.mjs --base-url URL --api-key KEY [--expect-* ...]\n` +
    `flags: ${Object.keys(FLAGS).map((f) => '--' + f).join(' ')}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opt = { headers: {} };
  for (const [flag, env] of Object.entries(FLAGS))
    if (process.env[env] !== undefined && process.env[env] !== '') opt[flag] = process.env[env];
  if (opt.header !== undefined) {
    try {
      opt.headers = JSON.parse(opt.header);
    } catch {
      usage('CHECK_HEADERS must be a JSON object of header names to values');
    }
    delete opt.header;
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') usage();
    if (!a.startsWith('--')) usage(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (!(name in FLAGS)) usage(`unknown flag --${name}`);
    let value;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) usage(`--${name} needs a value`);
      value = argv[++i];
    }
    if (name === 'header') {
      const colon = value.indexOf(':');
      if (colon <= 0) usage(`--header needs 'Name: value', got '${value}'`);
      opt.headers[value.slice(0, colon).trim()] = value.slice(colon + 1).trim();
    } else opt[name] = value;
  }
  return opt;
}

function intOpt(opt, name, def) {
  if (opt[name] === undefined) return def;
  const v = Number(opt[name]);
  if (!Number.isInteger(v)) usage(`--${name} must be an integer, got '${opt[name]}'`);
  return v;
}

const opt = parseArgs(process.argv.slice(2));
if (!opt['base-url']) usage('--base-url (or ANTHROPIC_BASE_URL) is required');
if (!opt['api-key']) usage('--api-key (or ANTHROPIC_API_KEY) is required');

const model = opt.model ?? 'claude-3-5-sonnet-20241022';
const maxTokens = intOpt(opt, 'max-tokens', 1024);
const prompt = opt.prompt ?? 'Hello from the SDK check';
const timeout = intOpt(opt, 'timeout-ms', 30000);
const expect = {
  text: opt['expect-text'],
  inputTokens: intOpt(opt, 'expect-input-tokens', undefined),
  outputTokens: intOpt(opt, 'expect-output-tokens', undefined),
  stopReason: opt['expect-stop-reason'],
  deltas: intOpt(opt, 'expect-deltas', undefined),
};

let cases = opt.cases ? opt.cases.split(',').map((s) => s.trim()).filter(Boolean) : null;
if (!cases) {
  cases = ['create', 'stream'];
  if (opt['error-prompt']) cases.push('error');
  if (opt['stream-error-prompt']) cases.push('stream-error');
  if (opt['bad-key']) cases.push('auth');
  if (opt['cancel-prompt']) cases.push('cancel');
}
const KNOWN = ['create', 'stream', 'error', 'stream-error', 'auth', 'cancel'];
for (const c of cases) if (!KNOWN.includes(c)) usage(`unknown case '${c}' (know ${KNOWN.join(',')})`);

function client(apiKey, maxRetries) {
  // authToken null: never fall back to ANTHROPIC_AUTH_TOKEN from the environment.
  return new Anthropic({
    apiKey, authToken: null, baseURL: opt['base-url'], maxRetries, timeout, defaultHeaders: opt.headers,
  });
}

function params(text) {
  const p = { model, max_tokens: maxTokens, messages: [{ role: 'user', content: text }] };
  if (opt.system) p.system = opt.system;
  return p;
}

function textOf(message) {
  return (message.content ?? []).filter((b) => b.type === 'text').map((b) => b.text).join('');
}

// Adds a mismatch to r when got !== want (want undefined: not checked).
function check(r, what, got, want) {
  if (want === undefined) return;
  if (got !== want) r.mismatches.push({ what, got, want });
}

function checkMessage(r, m) {
  r.id = m.id;
  r.text = textOf(m);
  r.usage = { input_tokens: m.usage?.input_tokens, output_tokens: m.usage?.output_tokens };
  r.stop_reason = m.stop_reason;
  if (typeof m.id !== 'string' || !m.id.startsWith('msg_'))
    r.mismatches.push({ what: 'id', got: m.id, want: 'msg_...' });
  check(r, 'type', m.type, 'message');
  check(r, 'role', m.role, 'assistant');
  check(r, 'model', m.model, model);
  if (typeof m.stop_reason !== 'string')
    r.mismatches.push({ what: 'stop_reason', got: m.stop_reason, want: 'a string' });
  check(r, 'text', r.text, expect.text);
  check(r, 'usage.input_tokens', r.usage.input_tokens, expect.inputTokens);
  check(r, 'usage.output_tokens', r.usage.output_tokens, expect.outputTokens);
  check(r, 'stop_reason', m.stop_reason, expect.stopReason);
}

function errorInfo(e) {
  return {
    class: e?.constructor?.name,
    is_api_error: e instanceof Anthropic.APIError,
    status: e?.status,
    type: e?.type ?? e?.error?.error?.type,
    message: e?.apiMessage ?? e?.message,
  };
}

const runners = {
  async create() {
    const r = { name: 'create', mismatches: [] };
    const m = await client(opt['api-key'], intOpt(opt, 'max-retries', 0)).messages.create(params(prompt));
    checkMessage(r, m);
    return r;
  },

  async stream() {
    const r = { name: 'stream', mismatches: [] };
    const deltas = [];
    const events = [];
    const s = client(opt['api-key'], intOpt(opt, 'max-retries', 0)).messages.stream(params(prompt));
    s.on('text', (t) => deltas.push(t));
    s.on('streamEvent', (ev) => events.push(ev.type));
    const m = await s.finalMessage();
    checkMessage(r, m);
    r.deltas = deltas.length;
    r.events = [...new Set(events)];
    check(r, 'joined deltas == final text', deltas.join(''), r.text);
    check(r, 'deltas', deltas.length, expect.deltas);
    for (const ev of ['message_start', 'content_block_start', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop'])
      if (!events.includes(ev)) r.mismatches.push({ what: 'event seen', got: 'missing', want: ev });
    return r;
  },

  async error() {
    const r = { name: 'error', mismatches: [] };
    try {
      const m = await client(opt['api-key'], 0).messages.create(params(opt['error-prompt'] ?? '[[fault:529]]'));
      r.mismatches.push({ what: 'outcome', got: `success (${textOf(m)})`, want: 'an APIError' });
    } catch (e) {
      r.error = errorInfo(e);
      check(r, 'error is APIError', r.error.is_api_error, true);
      check(r, 'error.status', r.error.status, intOpt(opt, 'expect-error-status', undefined));
      check(r, 'error.type', r.error.type, opt['expect-error-type']);
      check(r, 'error class', r.error.class, opt['expect-error-class']);
    }
    return r;
  },

  async 'stream-error'() {
    const r = { name: 'stream-error', mismatches: [] };
    const deltas = [];
    try {
      const s = client(opt['api-key'], 0).messages.stream(
        params(opt['stream-error-prompt'] ?? '[[fault:midstream]]'));
      s.on('text', (t) => deltas.push(t));
      const m = await s.finalMessage();
      r.mismatches.push({ what: 'outcome', got: `success (${textOf(m)})`, want: 'an APIError mid-stream' });
    } catch (e) {
      r.error = errorInfo(e);
      r.deltas_before_error = deltas.length;
      check(r, 'error is APIError', r.error.is_api_error, true);
      check(r, 'error.type', r.error.type, opt['expect-stream-error-type'] ?? 'overloaded_error');
    }
    return r;
  },

  // The client gives up on a stream it is reading: the SDK must end it with
  // APIUserAbortError after the deltas read so far (the server side of the
  // story, that the transfer stopped, is for the caller to check).
  async cancel() {
    const r = { name: 'cancel', mismatches: [] };
    const after = intOpt(opt, 'cancel-after', 2);
    const deltas = [];
    const s = client(opt['api-key'], 0).messages.stream(
      params(opt['cancel-prompt'] ?? '[[words:200]] [[tps:20]]'));
    s.on('text', (t) => {
      deltas.push(t);
      if (deltas.length === after) s.abort();
    });
    try {
      const m = await s.finalMessage();
      r.mismatches.push({ what: 'outcome', got: `completed (${textOf(m)})`, want: 'aborted' });
    } catch (e) {
      r.error = errorInfo(e);
      check(r, 'error is APIUserAbortError', e instanceof Anthropic.APIUserAbortError, true);
    }
    r.deltas_before_abort = deltas.length;
    check(r, 'deltas before abort', deltas.length, after);
    return r;
  },

  async auth() {
    const r = { name: 'auth', mismatches: [] };
    try {
      await client(opt['bad-key'] ?? 'definitely-not-a-valid-key', 0).messages.create(params(prompt));
      r.mismatches.push({ what: 'outcome', got: 'success', want: 'AuthenticationError' });
    } catch (e) {
      r.error = errorInfo(e);
      check(r, 'error is AuthenticationError', e instanceof Anthropic.AuthenticationError, true);
      check(r, 'error.status', r.error.status, 401);
      check(r, 'error.type', r.error.type, 'authentication_error');
    }
    return r;
  },
};

const summary = { ok: true, base_url: opt['base-url'], model, cases: [] };
for (const name of cases) {
  let r;
  try {
    r = await runners[name]();
  } catch (e) {
    r = { name, mismatches: [{ what: 'unexpected exception', got: errorInfo(e), want: 'none' }] };
  }
  r.ok = r.mismatches.length === 0;
  if (!r.ok) summary.ok = false;
  summary.cases.push(r);
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
process.exit(summary.ok ? 0 : 1);
