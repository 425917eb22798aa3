// A small Fedify 1.5 server that Kith's interop test federates with over loopback.
//
//   node peer.mjs [--port N] [--username peer]
//
// It serves one actor (http://127.0.0.1:PORT/users/USERNAME) with an RSA key made at start-up,
// keeps everything in memory (MemoryKvStore, no queue: activities are sent at once and inbox
// listeners run before the response), and never skips signature verification: an activity
// reaches the inbox listener only after Fedify verified its HTTP signature.
//
// When it listens it prints one JSON line on stdout:
//   {"event": "ready", "origin": "http://127.0.0.1:PORT", "actor": "http://.../users/USERNAME"}
//
// The test drives it through a control API on the same port (JSON in, JSON out):
//   GET  /_control/state          activities the inbox accepted (signature verified), every
//                                 request that reached an inbox with its status, inbox errors
//   POST /_control/lookup         {"id": URL}                 -> the object lookupObject() gave
//   POST /_control/follow         {"actor": URL}              -> the Follow sent
//   POST /_control/unfollow       {"actor": URL, "follow": ID} -> the Undo(Follow) sent
//   POST /_control/note           {"to": [URL], "cc": [URL], "content": HTML,
//                                  "mentions": [{"href": URL, "name": "@u@host"}],
//                                  "inReplyTo": URL}         -> the Create(Note) sent to each
//                                                               actor in to/cc
// Errors answer 500 with {"error": message}.

import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { Temporal } from "@js-temporal/polyfill";
import {
  Activity,
  Create,
  createFederation,
  Endpoints,
  Follow,
  generateCryptoKeyPair,
  isActor,
  Mention,
  MemoryKvStore,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Undo,
} from "@fedify/fedify";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: process.env.PEER_PORT ?? "0" },
    username: { type: "string", default: process.env.PEER_USERNAME ?? "peer" },
  },
});
const USERNAME = args.username;

// -- what the test reads back -------------------------------------------------------------------

const received = []; // activities whose signature Fedify verified, in arrival order
const inboxRequests = []; // every POST to an inbox: {path, status, body}
const inboxErrors = []; // errors raised while handling a verified activity
const notes = new Map(); // id -> Note this peer created, served at its id

function typeName(object) {
  const typeId = object?.constructor?.typeId?.href ?? "";
  return typeId.slice(typeId.lastIndexOf("#") + 1) || object?.constructor?.name;
}

// A Note's attachments as Fedify's vocabulary reads them (typed: mediaType, url, name, size).
async function describeAttachments(note) {
  const attachments = [];
  for await (const item of note.getAttachments()) {
    const url = item.url instanceof URL ? item.url.href : (item.url?.href?.href ?? null);
    attachments.push({
      type: typeName(item),
      mediaType: item.mediaType ?? null,
      url,
      name: item.name?.toString() ?? null,
      width: item.width ?? null,
      height: item.height ?? null,
    });
  }
  return attachments;
}

async function describeObject(activity) {
  let object;
  try {
    object = await activity.getObject();
  } catch (error) {
    // A reference this peer cannot fetch (e.g. the id of its own Follow, which it does not serve).
    return { id: activity.objectId?.href ?? null, error: String(error) };
  }
  if (object == null) return { id: activity.objectId?.href ?? null };
  const summary = { id: object.id?.href ?? null, type: typeName(object) };
  if (object instanceof Note) {
    summary.content = object.content?.toString() ?? null;
    summary.inReplyTo = object.replyTargetId?.href ?? null;
    summary.to = object.toIds.map((url) => url.href);
    summary.cc = object.ccIds.map((url) => url.href);
    summary.attributedTo = object.attributionId?.href ?? null;
    summary.attachments = await describeAttachments(object);
  }
  if (object instanceof Activity) {
    summary.actor = object.actorId?.href ?? null;
    summary.object = object.objectId?.href ?? null;
  }
  return summary;
}

// -- the federation -----------------------------------------------------------------------------

let keyPair; // made once before listening: the actor's key never changes while the peer runs

const federation = createFederation({
  kv: new MemoryKvStore(),
  allowPrivateAddress: true, // Kith listens on 127.0.0.1
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify peer",
      summary: "A Fedify app in Kith's interop test",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      manuallyApprovesFollowers: false,
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((key) => key.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === USERNAME ? [keyPair] : []));

federation.setFollowersDispatcher("/users/{identifier}/followers", () => ({ items: [] }));

federation.setObjectDispatcher(Note, "/notes/{id}", (ctx, values) => {
  return notes.get(ctx.getObjectUri(Note, values).href) ?? null;
});

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Activity, async (ctx, activity) => {
    received.push({
      type: typeName(activity),
      id: activity.id?.href ?? null,
      actor: activity.actorId?.href ?? null,
      object: await describeObject(activity),
      json: await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader }),
    });
  })
  .onError((_ctx, error) => {
    inboxErrors.push(String(error?.stack ?? error));
  });

// -- the control API ----------------------------------------------------------------------------

function context(origin) {
  return federation.createContext(new URL(origin), undefined);
}

async function lookupActor(ctx, url) {
  const actor = await ctx.lookupObject(url);
  if (!isActor(actor)) throw new Error(`${url} is not an actor: ${typeName(actor)}`);
  return actor;
}

const control = {
  "GET /_control/state": async () => ({ received, inboxRequests, inboxErrors }),

  "POST /_control/lookup": async (ctx, body) => {
    const object = await ctx.lookupObject(body.id);
    if (object == null) return { found: false };
    return {
      found: true,
      type: typeName(object),
      id: object.id?.href ?? null,
      preferredUsername: object.preferredUsername?.toString() ?? null,
      inbox: object.inboxId?.href ?? null,
      publicKey: isActor(object) ? (await object.getPublicKey())?.id?.href ?? null : null,
      json: await object.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader }),
    };
  },

  "POST /_control/follow": async (ctx, body) => {
    const target = await lookupActor(ctx, body.actor);
    const follow = new Follow({
      id: new URL(`/follows/${randomUUID()}`, ctx.origin),
      actor: ctx.getActorUri(USERNAME),
      object: target.id,
    });
    await ctx.sendActivity({ identifier: USERNAME }, target, follow);
    return { id: follow.id.href };
  },

  "POST /_control/unfollow": async (ctx, body) => {
    const target = await lookupActor(ctx, body.actor);
    const undo = new Undo({
      id: new URL(`/undos/${randomUUID()}`, ctx.origin),
      actor: ctx.getActorUri(USERNAME),
      object: new Follow({
        id: new URL(body.follow),
        actor: ctx.getActorUri(USERNAME),
        object: target.id,
      }),
    });
    await ctx.sendActivity({ identifier: USERNAME }, target, undo);
    return { id: undo.id.href };
  },

  "POST /_control/note": async (ctx, body) => {
    const to = (body.to ?? []).map((url) => new URL(url));
    const cc = (body.cc ?? []).map((url) => new URL(url));
    const noteId = ctx.getObjectUri(Note, { id: randomUUID() });
    const note = new Note({
      id: noteId,
      attribution: ctx.getActorUri(USERNAME),
      content: body.content,
      published: Temporal.Now.instant(),
      url: noteId,
      tos: to,
      ccs: cc,
      replyTarget: body.inReplyTo ? new URL(body.inReplyTo) : null,
      tags: (body.mentions ?? []).map(
        (mention) => new Mention({ href: new URL(mention.href), name: mention.name }),
      ),
    });
    notes.set(noteId.href, note);
    const create = new Create({
      id: new URL(`${noteId.href}/activity`),
      actor: ctx.getActorUri(USERNAME),
      published: note.published,
      tos: to,
      ccs: cc,
      object: note,
    });
    const recipients = [];
    for (const url of [...to, ...cc]) {
      if (url.href === PUBLIC_COLLECTION.href) continue;
      recipients.push(await lookupActor(ctx, url.href));
    }
    await ctx.sendActivity({ identifier: USERNAME }, recipients, create);
    return { id: create.id.href, note: noteId.href };
  },
};

// -- node:http bridged to federation.fetch ------------------------------------------------------

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function json(res, status, data) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(data));
}

function toRequest(origin, req, body) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const hasBody = !["GET", "HEAD"].includes(req.method);
  return new Request(new URL(req.url, origin), {
    method: req.method,
    headers,
    body: hasBody ? body : undefined,
  });
}

function isInbox(pathname) {
  return pathname === "/inbox" || /^\/users\/[^/]+\/inbox$/.test(pathname);
}

async function handle(origin, req, res) {
  const body = await readBody(req);
  const url = new URL(req.url, origin);
  const route = control[`${req.method} ${url.pathname}`];
  if (route) {
    try {
      const input = body.length ? JSON.parse(body.toString("utf8")) : {};
      json(res, 200, await route(context(origin), input));
    } catch (error) {
      json(res, 500, { error: String(error?.stack ?? error) });
    }
    return;
  }
  const response = await federation.fetch(toRequest(origin, req, body), {
    contextData: undefined,
  });
  const responseBody = Buffer.from(await response.arrayBuffer());
  if (req.method === "POST" && isInbox(url.pathname)) {
    inboxRequests.push({
      path: url.pathname,
      status: response.status,
      body: body.toString("utf8"),
      response: responseBody.toString("utf8").slice(0, 2000),
    });
  }
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(responseBody);
}

keyPair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const server = createServer();
server.listen(Number(args.port), "127.0.0.1", () => {
  const origin = `http://127.0.0.1:${server.address().port}`;
  server.on("request", (req, res) => {
    handle(origin, req, res).catch((error) => {
      console.error(error);
      if (!res.headersSent) json(res, 500, { error: String(error?.stack ?? error) });
      else res.end();
    });
  });
  process.stdout.write(
    `${JSON.stringify({ event: "ready", origin, actor: `${origin}/users/${USERNAME}` })}\n`,
  );
});

// The test closes stdin (or exits) to stop the peer.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
