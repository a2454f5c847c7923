// check.mjs runs the official OpenFeature JavaScript OFREP providers against
// a flagpole bearer and checks every answer against what `flagpole eval`
// computed for the same context. ofrep_test.go writes the configuration file
// (argv[2]) and drives the flag-change step over stdin/stdout.
//
// Configuration (JSON):
//   url        the bearer's base URL
//   keys       {server, client, unknown}: SDK keys of one environment, and a
//              well-formed key the bearer does not know
//   flags      [{key, type: boolean|string|number|object, client}]
//   contexts   [{name, context}]: OpenFeature contexts (targetingKey, ...)
//   expected   {contextName: {flagKey: {value, variant, reason}}}
//   maxContextBytes  the bearer's context size limit
//   change     {flag, context}: the flag ofrep_test.go changes in the
//              repository (twice), and the context whose new result it
//              sends back
//
// Output: one line per check, "ok ..." or "FAIL ...", then a summary; the exit
// status is 1 when any check failed. Before each flag change the script
// prints "WAITING change" (the polling provider watches) or "WAITING
// change2" (the event stream provider watches) and reads one JSON line
// {value, variant, reason} from stdin: the expected result after the change.

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { isDeepStrictEqual, inspect } from 'node:util';

import { OpenFeature as ServerOF } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature as WebOF, ProviderStatus } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { EventSource } from 'eventsource';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
let failures = 0;
let passes = 0;

function check(name, ok, detail) {
  if (ok) {
    passes++;
    console.log(`ok ${name}`);
  } else {
    failures++;
    console.log(`FAIL ${name}: ${detail}`);
  }
}

const show = (v) => inspect(v, { depth: 6, breakLength: Infinity });

// expectDetails compares an OpenFeature evaluation-details object with want;
// undefined fields of want are not compared.
function expectDetails(name, got, want) {
  const diffs = [];
  for (const [field, w] of Object.entries(want)) {
    if (w === undefined) continue;
    if (!isDeepStrictEqual(got[field], w)) {
      diffs.push(`${field} = ${show(got[field])}, want ${show(w)}`);
    }
  }
  check(name, diffs.length === 0, diffs.join('; ') + ` (details ${show(got)})`);
}

// defaults of each OpenFeature type, and a default of another type.
const defaults = { boolean: false, string: 'fallback', number: -1, object: { fallback: true } };
const otherType = { boolean: 'string', string: 'boolean', number: 'string', object: 'boolean' };
const method = { boolean: 'getBooleanDetails', string: 'getStringDetails', number: 'getNumberDetails', object: 'getObjectDetails' };

// recordingFetch passes every request to the real fetch unchanged and keeps
// what a check needs to see: the If-None-Match sent, the status and headers.
function recordingFetch(log) {
  return async (req, init) => {
    const res = await fetch(req, init);
    log.push({
      url: req.url,
      flagConfigEtag: new URL(req.url).searchParams.get('flagConfigEtag'),
      ifNoneMatch: req.headers.get('If-None-Match'),
      status: res.status,
      etag: res.headers.get('ETag'),
      allowOrigin: res.headers.get('Access-Control-Allow-Origin'),
      exposeHeaders: res.headers.get('Access-Control-Expose-Headers'),
    });
    return res;
  };
}

const auth = (key) => ({ headers: [['Authorization', `Bearer ${key}`]] });

// checkServer evaluates every flag for every context through the server
// (Node) provider with the server key, then the error paths.
async function checkServer() {
  await ServerOF.setProviderAndWait('server', new OFREPProvider({ baseUrl: cfg.url, ...auth(cfg.keys.server) }));
  await ServerOF.setProviderAndWait('server-client-key', new OFREPProvider({ baseUrl: cfg.url, ...auth(cfg.keys.client) }));
  await ServerOF.setProviderAndWait('server-unknown-key', new OFREPProvider({ baseUrl: cfg.url, ...auth(cfg.keys.unknown) }));
  const client = ServerOF.getClient('server');
  for (const { name, context } of cfg.contexts) {
    for (const f of cfg.flags) {
      const want = cfg.expected[name][f.key];
      const got = await client[method[f.type]](f.key, defaults[f.type], context);
      expectDetails(`server ${f.type} ${f.key} [${name}]`, got, {
        value: want.value, variant: want.variant, reason: want.reason, errorCode: undefined,
      });
      check(`server ${f.key} [${name}] no error`, got.errorCode === undefined, `errorCode ${got.errorCode}: ${got.errorMessage}`);
      check(`server ${f.key} [${name}] metadata.version`, typeof got.flagMetadata?.version === 'string' && got.flagMetadata.version !== '',
        `flagMetadata ${show(got.flagMetadata)}`);
    }
  }
  const ctx = cfg.contexts[0].context;
  for (const f of cfg.flags) {
    const t = otherType[f.type];
    const got = await client[method[t]](f.key, defaults[t], ctx);
    expectDetails(`server ${f.key} asked as ${t}`, got, { value: defaults[t], reason: 'ERROR', errorCode: 'TYPE_MISMATCH' });
  }
  const missing = await client.getStringDetails('no-such-flag', 'fallback', ctx);
  expectDetails('server unknown flag', missing, { value: 'fallback', reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });

  const withClientKey = ServerOF.getClient('server-client-key');
  for (const f of cfg.flags) {
    const got = await withClientKey[method[f.type]](f.key, defaults[f.type], ctx);
    if (f.client) {
      expectDetails(`server provider, client key, ${f.key}`, got, { value: cfg.expected[cfg.contexts[0].name][f.key].value });
    } else {
      expectDetails(`server provider, client key, server-only ${f.key}`, got,
        { value: defaults[f.type], reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    }
  }
  await ServerOF.setProviderAndWait('server-x-api-key',
    new OFREPProvider({ baseUrl: cfg.url, headers: [['X-API-Key', cfg.keys.server]] }));
  const f0 = cfg.flags[0];
  expectDetails(`server provider, X-API-Key, ${f0.key}`,
    await ServerOF.getClient('server-x-api-key')[method[f0.type]](f0.key, defaults[f0.type], ctx),
    { value: cfg.expected[cfg.contexts[0].name][f0.key].value, errorCode: undefined });

  // A context over the bearer's limit is a bad evaluation request: OFREP's
  // 400 with errorCode INVALID_CONTEXT, which the provider reports as such.
  const huge = { ...ctx, note: 'x'.repeat(cfg.maxContextBytes) };
  const tooLarge = await client.getBooleanDetails(f0.key, true, huge);
  expectDetails('server provider, oversized context', tooLarge, { value: true, reason: 'ERROR', errorCode: 'INVALID_CONTEXT' });

  // The provider throws OFREPApiUnauthorizedError, which the SDK reports as
  // GENERAL; an error hook sees the error itself.
  const errors = [];
  const deniedClient = ServerOF.getClient('server-unknown-key');
  deniedClient.addHooks({ error: (_, err) => void errors.push(err) });
  const denied = await deniedClient.getBooleanDetails(cfg.flags[0].key, true, ctx);
  expectDetails('server provider, unknown key', denied, { value: true, reason: 'ERROR', errorCode: 'GENERAL' });
  check('server provider, unknown key: the provider\'s auth error', errors.length === 1 && errors[0]?.name === 'OFREPApiUnauthorizedError',
    `errors ${show(errors.map((e) => e?.name))}`);
  await ServerOF.close();
}

// A localStorage for the web provider's default cache mode
// ('local-cache-first'); Node has none.
function installLocalStorage() {
  const m = new Map();
  globalThis.localStorage = {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
    clear: () => m.clear(),
    key: (i) => [...m.keys()][i] ?? null,
    get length() { return m.size; },
  };
}

// eventually polls cond every 50 ms for up to 10 s.
async function eventually(cond) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

// checkWeb runs the browser provider (bulk evaluation, ETag polling) with
// the client key: values per context, errors, 304s and a flag change.
async function checkWeb() {
  installLocalStorage();
  const log = [];
  const provider = new OFREPWebProvider({
    baseUrl: cfg.url, ...auth(cfg.keys.client), pollInterval: 200, fetchImplementation: recordingFetch(log),
    // The bearer advertises an event stream; 'polling' ignores it, as a
    // provider without event stream support would.
    changeDetection: 'polling',
    // The default, 'local-cache-first', answers a context it has seen from
    // localStorage with reason CACHED until its background fetch returns;
    // 'network-first' fetches on every context change, so reasons are the
    // bearer's. Both store flags and ETag in localStorage.
    cacheMode: 'network-first',
  });
  const clientFlags = cfg.flags.filter((f) => f.client);
  await WebOF.setProviderAndWait(provider, cfg.contexts[0].context);
  const client = WebOF.getClient();
  for (const { name, context } of cfg.contexts) {
    await WebOF.setContext(context);
    for (const f of clientFlags) {
      const want = cfg.expected[name][f.key];
      const got = client[method[f.type]](f.key, defaults[f.type]);
      expectDetails(`web ${f.type} ${f.key} [${name}]`, got, { value: want.value, variant: want.variant, reason: want.reason });
      check(`web ${f.key} [${name}] no error`, got.errorCode === undefined, `errorCode ${got.errorCode}: ${got.errorMessage}`);
    }
    for (const f of cfg.flags.filter((f) => !f.client)) {
      const got = client[method[f.type]](f.key, defaults[f.type]);
      expectDetails(`web server-only ${f.key} [${name}] is hidden`, got,
        { value: defaults[f.type], reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    }
  }
  for (const f of clientFlags) {
    const t = otherType[f.type];
    expectDetails(`web ${f.key} asked as ${t}`, client[method[t]](f.key, defaults[t]),
      { value: defaults[t], reason: 'ERROR', errorCode: 'TYPE_MISMATCH' });
  }
  expectDetails('web unknown flag', client.getNumberDetails('no-such-flag', 7),
    { value: 7, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });

  const bulk = log.filter((e) => e.url.endsWith('/ofrep/v1/evaluate/flags'));
  const badEtag = bulk.find((e) => e.status === 200 && !/^(W\/)?"[^"]*"$/.test(e.etag ?? ''));
  check('web bulk responses carry a quoted ETag', bulk.length > 0 && !badEtag, show(badEtag ?? 'no bulk request'));
  const noCors = bulk.find((e) => e.allowOrigin !== '*' || !/(^|,\s*)etag(\s*,|$)/i.test(e.exposeHeaders ?? ''));
  check('web bulk responses allow any origin and expose ETag', !noCors, show(noCors));

  // The change context is the last one set; polling must revalidate with
  // If-None-Match and get 304 while nothing changes.
  const changeCtx = cfg.contexts.find((c) => c.name === cfg.change.context);
  await WebOF.setContext(changeCtx.context);
  const before = client.getStringDetails(cfg.change.flag, 'fallback');
  const mark = log.length;
  const revalidated = await eventually(() => log.slice(mark).some((e) => e.ifNoneMatch && e.status === 304));
  check('web polling sends If-None-Match and gets 304', revalidated,
    `${log.length - mark} requests, the last: ${show(log.slice(-3))}`);
  const sent = log.slice(mark).find((e) => e.ifNoneMatch);
  const lastEtag = [...log.slice(0, mark)].reverse().find((e) => e.status === 200)?.etag;
  check('web If-None-Match is the ETag received', sent?.ifNoneMatch === lastEtag, `sent ${sent?.ifNoneMatch}, ETag ${lastEtag}`);

  let changed = false;
  client.addHandler('PROVIDER_CONFIGURATION_CHANGED', (e) => {
    if (e?.flagsChanged?.includes(cfg.change.flag)) changed = true;
  });
  const want = await expectChange('change');
  check('web change alters the result', !isDeepStrictEqual(want.value, before.value), `before ${show(before.value)}, after ${show(want.value)}`);
  const seen = await eventually(() => isDeepStrictEqual(client.getStringDetails(cfg.change.flag, 'fallback').value, want.value));
  check('web provider sees the changed flag', seen, `still ${show(client.getStringDetails(cfg.change.flag, 'fallback'))}`);
  expectDetails(`web ${cfg.change.flag} after the change`, client.getStringDetails(cfg.change.flag, 'fallback'),
    { value: want.value, variant: want.variant, reason: want.reason });
  check('web CONFIGURATION_CHANGED names the flag', await eventually(() => changed), 'no event');
  const storedEtag = [...log].reverse().find((e) => e.status === 200)?.etag;
  await WebOF.close();

  // A page reload: a new provider in the default cache mode answers from
  // localStorage and revalidates with the stored ETag, which gets 304.
  const reloadLog = [];
  const reload = new OFREPWebProvider({ baseUrl: cfg.url, ...auth(cfg.keys.client), fetchImplementation: recordingFetch(reloadLog) });
  await WebOF.setProviderAndWait(reload, changeCtx.context);
  expectDetails(`web after reload, ${cfg.change.flag} from localStorage`, WebOF.getClient().getStringDetails(cfg.change.flag, 'fallback'),
    { value: want.value, variant: want.variant, reason: 'CACHED' });
  check('web after reload revalidates with the stored ETag and gets 304',
    await eventually(() => reloadLog.some((e) => e.ifNoneMatch === storedEtag && e.status === 304)),
    `stored ETag ${storedEtag}, requests ${show(reloadLog)}`);
  await WebOF.close();

  // A key the bearer does not know: the web provider fails for good.
  const denied = new OFREPWebProvider({ baseUrl: cfg.url, ...auth(cfg.keys.unknown), cacheMode: 'disabled' });
  let initError;
  try {
    await WebOF.setProviderAndWait('denied', denied, changeCtx.context);
  } catch (e) {
    initError = e;
  }
  check('web provider, unknown key: initialization fails', initError !== undefined, 'initialized');
  const d = WebOF.getClient('denied').getBooleanDetails(cfg.flags.find((f) => f.client).key, true);
  check('web provider, unknown key: FATAL', WebOF.getClient('denied').providerStatus === ProviderStatus.FATAL,
    `status ${WebOF.getClient('denied').providerStatus}`);
  expectDetails('web provider, unknown key: evaluation', d, { value: true, reason: 'ERROR', errorCode: 'PROVIDER_FATAL' });
  await WebOF.close();
}

// expectChange reads the expected result of the next change from stdin
// after announcing it with "WAITING <step>".
async function expectChange(step) {
  console.log(`WAITING ${step}`);
  const line = await stdinLines.next();
  if (line.done) throw new Error(`stdin closed before the expected result of ${step} arrived`);
  return JSON.parse(line.value);
}

// checkWebEventStream runs the web provider with polling off: it must
// follow the bearer's OFREP event stream (ADR 0008) and pick up a change
// of the repository through it alone. Node has no EventSource; the
// 'eventsource' package is the WHATWG one, made global as in a browser.
async function checkWebEventStream() {
  const opened = [];
  const messages = [];
  globalThis.EventSource = class extends EventSource {
    constructor(url, init) {
      super(url, init);
      opened.push(String(url));
      this.addEventListener('message', (e) => void messages.push(JSON.parse(e.data)));
    }
  };
  const log = [];
  const provider = new OFREPWebProvider({
    baseUrl: cfg.url, ...auth(cfg.keys.client), fetchImplementation: recordingFetch(log),
    pollInterval: 0, // no polling: only the event stream can bring the change
    cacheMode: 'disabled',
  });
  const changeCtx = cfg.contexts.find((c) => c.name === cfg.change.context);
  await WebOF.setProviderAndWait('events', provider, changeCtx.context);
  const client = WebOF.getClient('events');
  let changed = false;
  client.addHandler('PROVIDER_CONFIGURATION_CHANGED', (e) => {
    if (e?.flagsChanged?.includes(cfg.change.flag)) changed = true;
  });
  const before = client.getStringDetails(cfg.change.flag, 'fallback');

  check('events: the provider opens the advertised stream',
    await eventually(() => opened.length === 1) && opened[0].startsWith(`${cfg.url}/v1/stream/ofrep?token=`), `opened ${show(opened)}`);
  check('events: the stream URL does not carry the SDK key', opened.every((u) => !u.includes(cfg.keys.client)), show(opened));
  // On connecting, the bearer sends a refetchEvaluation; the provider
  // re-fetches with flagConfigEtag and its ETag, and gets 304 (200 only if
  // the bearer's 15-minute token window turned in between).
  check('events: a refetchEvaluation on connecting',
    await eventually(() => messages.some((m) => m.type === 'refetchEvaluation' && typeof m.etag === 'string')), `messages ${show(messages)}`);
  check('events: the provider re-fetches with flagConfigEtag and If-None-Match',
    await eventually(() => log.some((e) => e.flagConfigEtag && e.ifNoneMatch && (e.status === 304 || e.status === 200))), `requests ${show(log)}`);
  const seenMessages = messages.length;
  const seenRequests = log.length;

  const want = await expectChange('change2');
  check('events: the change alters the result', !isDeepStrictEqual(want.value, before.value), `before ${show(before.value)}, after ${show(want.value)}`);
  const seen = await eventually(() => isDeepStrictEqual(client.getStringDetails(cfg.change.flag, 'fallback').value, want.value));
  check('events: the provider sees the change without polling', seen, `still ${show(client.getStringDetails(cfg.change.flag, 'fallback'))}; requests ${show(log.slice(seenRequests))}`);
  expectDetails(`events: ${cfg.change.flag} after the change`, client.getStringDetails(cfg.change.flag, 'fallback'),
    { value: want.value, variant: want.variant, reason: want.reason });
  check('events: CONFIGURATION_CHANGED names the flag', await eventually(() => changed), 'no event');
  const newVersion = messages.slice(seenMessages).find((m) => m.type === 'refetchEvaluation')?.etag;
  const fetched = log.slice(seenRequests);
  check('events: every request after the change was triggered by the stream',
    fetched.length > 0 && fetched.every((e) => e.flagConfigEtag !== null), `requests ${show(fetched)}`);
  check('events: the re-fetch names the version the stream announced', fetched.some((e) => e.flagConfigEtag === newVersion && e.status === 200),
    `announced ${newVersion}, requests ${show(fetched)}`);
  check('events: one stream, kept open', opened.length === 1, `opened ${show(opened)}`);
  await WebOF.close();
  delete globalThis.EventSource;
}

// checkPreflight asks what a browser asks before the web provider's POST.
async function checkPreflight() {
  const res = await fetch(`${cfg.url}/ofrep/v1/evaluate/flags`, {
    method: 'OPTIONS',
    headers: {
      Origin: 'https://app.example',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization,content-type,if-none-match',
    },
  });
  const allowed = (res.headers.get('Access-Control-Allow-Headers') ?? '').toLowerCase();
  check('preflight allows the web provider\'s request', res.ok && res.headers.get('Access-Control-Allow-Origin') === '*' &&
    /post/i.test(res.headers.get('Access-Control-Allow-Methods') ?? '') &&
    ['authorization', 'content-type', 'if-none-match'].every((h) => allowed.includes(h)),
  `status ${res.status}, headers ${show(Object.fromEntries(res.headers))}`);
}

try {
  await checkServer();
  await checkPreflight();
  await checkWeb();
  await checkWebEventStream();
} catch (e) {
  check('run', false, e?.stack ?? String(e));
}
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
