// Browser entry: drives the stock Chime SDKs against stsgate and returns a
// JSON report. Bundled by esbuild into dist/sdk-page.js (see setup.sh).
import {
  ChimeSDKMessagingClient,
  ListChannelMessagesCommand,
  SendChannelMessageCommand,
} from '@aws-sdk/client-chime-sdk-messaging';
import {
  ConsoleLogger,
  DefaultMessagingSession,
  LogLevel,
  MessagingSessionConfiguration,
} from 'amazon-chime-sdk-js';

// Anything shaped like a JWT (three base64url parts joined by dots).
const JWT_RE = /eyJ[\w-]*\.[\w-]*\.[\w-]*|[\w-]{10,}\.[\w-]{10,}\.[\w-]{16,}/g;

// "Session-token mode": the JWT rides as the STS session token; stsgate
// ignores the placeholder signature.
function makeClient(cfg, token) {
  return new ChimeSDKMessagingClient({
    region: cfg.region,
    endpoint: cfg.endpoint,
    credentials: { accessKeyId: 'stsgate', secretAccessKey: 'placeholder', sessionToken: token },
  });
}

function describeError(e) {
  return {
    name: e && e.name,
    message: String((e && e.message) || e),
    httpStatusCode: e && e.$metadata ? e.$metadata.httpStatusCode : undefined,
    networkError: e instanceof TypeError && /Failed to fetch/i.test(e.message),
  };
}

function token() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

function sendCommand(cfg, content) {
  return new SendChannelMessageCommand({
    ChannelArn: cfg.channelArn,
    ChimeBearer: cfg.userArn,
    Content: content,
    Type: 'STANDARD',
    Persistence: 'PERSISTENT',
    ClientRequestToken: token(),
  });
}

function listCommand(cfg) {
  return new ListChannelMessagesCommand({ ChannelArn: cfg.channelArn, ChimeBearer: cfg.userArn });
}

// Runs fn, storing its result (or the error) and duration under report[key].
async function step(report, key, fn) {
  const t0 = performance.now();
  try {
    report[key] = await fn();
  } catch (e) {
    report[key] = { error: describeError(e) };
  }
  report[key].ms = Math.round(performance.now() - t0);
}

// Resolves when check() returns true, or after ms (then resolves false).
function waitFor(check, ms) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const tick = () => {
      if (check()) resolve(true);
      else if (Date.now() - t0 > ms) resolve(false);
      else setTimeout(tick, 25);
    };
    tick();
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Records which URLs the page opens as WebSockets: parameter names in
// order, values dropped, plus the close code. Instrumentation only; the SDK
// is unchanged.
const wsUrls = [];
window.WebSocket = class extends window.WebSocket {
  constructor(url, protocols) {
    const u = new URL(url);
    const entry = { base: `${u.protocol}//${u.host}${u.pathname}`, params: [...u.searchParams.keys()] };
    wsUrls.push(entry);
    super(url, protocols);
    this.addEventListener('close', (e) => (entry.closeCode = e.code));
  }
};

async function messagingSessionStep(cfg, client) {
  const out = { events: [] };
  const events = out.events;
  const logger = new ConsoleLogger('stsgate-test', LogLevel.WARN); // INFO would log the signed URL
  const conf = new MessagingSessionConfiguration(cfg.userArn, null, undefined, client);
  const session = new DefaultMessagingSession(conf, logger);
  session.addObserver({
    messagingSessionDidStartConnecting: (reconnecting) => events.push({ event: 'startConnecting', reconnecting }),
    messagingSessionDidStart: () => events.push({ event: 'start' }),
    messagingSessionDidReceiveMessage: (m) => events.push({ event: 'message', type: m.type, payload: m.payload }),
    messagingSessionDidStop: (e) => events.push({ event: 'stop', code: e.code, reason: e.reason }),
  });
  const timeoutMs = cfg.wsTimeoutMs || 10000;
  try {
    await withTimeout(session.start(), timeoutMs, 'session start');
    out.started = true;
  } catch (e) {
    // start() rejects with the CloseEvent when the socket closes before SESSION_ESTABLISHED.
    out.started = false;
    out.startError = e && e.code !== undefined ? { closeCode: e.code, reason: e.reason } : describeError(e);
    session.stop();
    return out;
  }

  // A REST send must come back over the socket as CREATE_CHANNEL_MESSAGE.
  const content = `stsgate-browser-ws-${Date.now()}`;
  const isEcho = (ev) =>
    ev.event === 'message' && ev.type === 'CREATE_CHANNEL_MESSAGE' && parseContent(ev.payload) === content;
  const t0 = performance.now();
  try {
    out.sent = { messageId: (await client.send(sendCommand(cfg, content))).MessageId };
  } catch (e) {
    out.sent = { error: describeError(e) };
  }
  out.echoReceived = await waitFor(() => events.some(isEcho), timeoutMs);
  out.echoMs = Math.round(performance.now() - t0);
  out.echo = events.find(isEcho) || null;

  session.stop();
  out.stopped = await waitFor(() => events.some((ev) => ev.event === 'stop'), 3000);
  return out;
}

function parseContent(payload) {
  try {
    return JSON.parse(payload).Content;
  } catch {
    return undefined;
  }
}

async function run(cfg) {
  const report = { userAgent: navigator.userAgent, origin: location.origin };
  const client = makeClient(cfg, cfg.token);

  // a. REST send.
  await step(report, 'send', async () => {
    const out = await client.send(sendCommand(cfg, `stsgate-browser-rest-${Date.now()}`));
    return { messageId: out.MessageId };
  });
  // b. REST list.
  await step(report, 'list', async () => {
    const out = await client.send(listCommand(cfg));
    return { contents: (out.ChannelMessages || []).map((m) => m.Content) };
  });
  // c. Messaging session over wss with the SDK's default signer.
  await step(report, 'ws', () => messagingSessionStep(cfg, client));
  report.ws.urls = wsUrls;
  // d. Bad token must surface as a typed error, not a network failure.
  await step(report, 'badToken', async () => {
    await makeClient(cfg, cfg.badToken).send(listCommand(cfg));
    return { unexpectedSuccess: true };
  });

  // Belt and braces: no token may leave the page.
  let json = JSON.stringify(report);
  for (const t of [cfg.token, cfg.badToken]) if (t) json = json.split(t).join('<redacted>');
  return JSON.parse(json.replace(JWT_RE, '<redacted-jwt>'));
}

window.stsgateTest = { run };
