import { beforeAll, describe, expect, it } from "vitest";
import {
  type Ed25519KeyPair,
  ed25519PublicKeyToMultibase,
  generateEd25519KeyPair,
  generateRsaKeyPair,
  type RsaKeyPair,
} from "../src/federation/keys.js";
import { PUBLIC } from "../src/federation/vocab/context.js";
import {
  asArray,
  asString,
  idOf,
  MAX_ATTACHMENTS,
  MAX_TAGS,
  ParseError,
  parseActor,
  parseKeys,
  parseNote,
  urlOf,
} from "../src/federation/vocab/parse.js";

let rsa: RsaKeyPair;
let otherRsa: RsaKeyPair;
let ed: Ed25519KeyPair;

beforeAll(() => {
  rsa = generateRsaKeyPair();
  otherRsa = generateRsaKeyPair();
  ed = generateEd25519KeyPair();
});

const M = "https://mastodon.example";

function mastodonActor(): Record<string, unknown> {
  return {
    "@context": [
      "https://www.w3.org/ns/activitystreams",
      "https://w3id.org/security/v1",
      {
        manuallyApprovesFollowers: "as:manuallyApprovesFollowers",
        toot: "http://joinmastodon.org/ns#",
        featured: { "@id": "toot:featured", "@type": "@id" },
        schema: "http://schema.org#",
        PropertyValue: "schema:PropertyValue",
        value: "schema:value",
        discoverable: "toot:discoverable",
        indexable: "toot:indexable",
        Emoji: "toot:Emoji",
      },
    ],
    id: `${M}/users/alice`,
    type: "Person",
    following: `${M}/users/alice/following`,
    followers: `${M}/users/alice/followers`,
    inbox: `${M}/users/alice/inbox`,
    outbox: `${M}/users/alice/outbox`,
    featured: `${M}/users/alice/collections/featured`,
    featuredTags: `${M}/users/alice/collections/tags`,
    preferredUsername: "alice",
    name: "Alice :blobcat:",
    summary: '<p>Hello <script>alert(1)</script><a href="https://x.example" onclick="x()">world</a></p>',
    url: `${M}/@alice`,
    manuallyApprovesFollowers: true,
    discoverable: true,
    indexable: false,
    published: "2023-04-05T00:00:00Z",
    devices: `${M}/users/alice/collections/devices`,
    publicKey: { id: `${M}/users/alice#main-key`, owner: `${M}/users/alice`, publicKeyPem: rsa.publicPem },
    tag: [
      {
        id: `${M}/emojis/1`,
        type: "Emoji",
        name: ":blobcat:",
        updated: "2023-01-01T00:00:00Z",
        icon: { type: "Image", mediaType: "image/png", url: `${M}/emoji/blobcat.png` },
      },
    ],
    attachment: [
      {
        type: "PropertyValue",
        name: "Website",
        value: '<a href="https://alice.example" rel="me" style="x">alice.example</a>',
      },
      { type: "PropertyValue", name: "<b>Pronouns</b>", value: "she/her" },
      { type: "IdentityProof", name: "x", signatureValue: "y" },
    ],
    endpoints: { sharedInbox: `${M}/inbox` },
    icon: { type: "Image", mediaType: "image/png", url: `${M}/avatars/alice.png` },
    image: { type: "Image", mediaType: "image/jpeg", url: `${M}/headers/alice.jpg` },
    alsoKnownAs: [`${M}/users/old`, "not a url"],
    movedTo: "https://new.example/users/alice",
  };
}

describe("small helpers", () => {
  it("asString, asArray, idOf", () => {
    expect(asString("a")).toBe("a");
    expect(asString(1)).toBeNull();
    expect(asArray(undefined)).toEqual([]);
    expect(asArray(null)).toEqual([]);
    expect(asArray("x")).toEqual(["x"]);
    expect(asArray([1, 2])).toEqual([1, 2]);
    expect(idOf("https://a/b")).toBe("https://a/b");
    expect(idOf({ id: "https://a/c", type: "Person" })).toBe("https://a/c");
    expect(idOf({ type: "Person" })).toBeNull();
    expect(idOf(3)).toBeNull();
  });

  it("urlOf reads strings, Links, Images and arrays", () => {
    expect(urlOf("https://a/x")).toBe("https://a/x");
    expect(urlOf({ type: "Link", href: "https://a/y" })).toBe("https://a/y");
    expect(urlOf({ type: "Image", url: "https://a/z.png" })).toBe("https://a/z.png");
    expect(urlOf({ type: "Image", url: { type: "Link", href: "https://a/w.png" } })).toBe("https://a/w.png");
    expect(
      urlOf(
        [
          { type: "Link", mediaType: "application/x-mpegURL", href: "https://a/v.m3u8" },
          { type: "Link", mediaType: "text/html", href: "https://a/watch" },
        ],
        true,
      ),
    ).toBe("https://a/watch");
    expect(urlOf("javascript:alert(1)")).toBeNull();
    expect(urlOf(`https://a/${"x".repeat(5000)}`)).toBeNull();
  });
});

describe("parseActor", () => {
  it("reads a Mastodon actor", () => {
    const actor = parseActor(mastodonActor(), `${M}/users/alice`);
    expect(actor).toMatchObject({
      uri: `${M}/users/alice`,
      type: "Person",
      username: "alice",
      domain: "mastodon.example",
      displayName: "Alice :blobcat:",
      url: `${M}/@alice`,
      inbox: `${M}/users/alice/inbox`,
      sharedInbox: `${M}/inbox`,
      outbox: `${M}/users/alice/outbox`,
      followers: `${M}/users/alice/followers`,
      following: `${M}/users/alice/following`,
      featured: `${M}/users/alice/collections/featured`,
      avatarUrl: `${M}/avatars/alice.png`,
      headerUrl: `${M}/headers/alice.jpg`,
      emojis: [{ shortcode: "blobcat", url: `${M}/emoji/blobcat.png` }],
      locked: true,
      bot: false,
      discoverable: true,
      indexable: false,
      movedTo: "https://new.example/users/alice",
      alsoKnownAs: [`${M}/users/old`],
      published: Date.UTC(2023, 3, 5),
      followersCount: null,
      followingCount: null,
      statusesCount: null,
    });
    expect(actor.note).toBe(
      '<p>Hello <a href="https://x.example" rel="nofollow noopener noreferrer" target="_blank">world</a></p>',
    );
    expect(actor.fields).toEqual([
      {
        name: "Website",
        value:
          '<a href="https://alice.example" rel="nofollow noopener noreferrer" target="_blank">alice.example</a>',
      },
      { name: "Pronouns", value: "she/her" },
    ]);
    expect(actor.keys).toEqual([
      {
        keyId: `${M}/users/alice#main-key`,
        ownerUri: `${M}/users/alice`,
        algorithm: "rsa",
        publicKey: rsa.publicPem.trim(),
      },
    ]);
  });

  it("accepts the document after a redirect on the same host, and a Service as a bot", () => {
    const doc = { ...mastodonActor(), type: "Service" };
    const actor = parseActor(doc, `${M}/@alice`);
    expect(actor.bot).toBe(true);
    expect(actor.type).toBe("Service");
  });

  it("reads a Misskey actor", () => {
    const K = "https://misskey.example";
    const actor = parseActor(
      {
        "@context": [
          "https://www.w3.org/ns/activitystreams",
          "https://w3id.org/security/v1",
          { misskey: "https://misskey-hub.net/ns#", isCat: "misskey:isCat" },
        ],
        type: "Person",
        id: `${K}/users/9abc`,
        inbox: `${K}/users/9abc/inbox`,
        outbox: `${K}/users/9abc/outbox`,
        followers: `${K}/users/9abc/followers`,
        following: `${K}/users/9abc/following`,
        featured: `${K}/users/9abc/collections/featured`,
        sharedInbox: `${K}/inbox`,
        endpoints: { sharedInbox: `${K}/inbox` },
        url: `${K}/@neko`,
        preferredUsername: "neko",
        name: null,
        summary: "<p><span>nya</span></p>",
        _misskey_summary: "nya",
        icon: { type: "Image", url: `${K}/files/avatar.webp`, sensitive: false, name: null },
        image: null,
        tag: [
          {
            id: `${K}/emojis/nya`,
            type: "Emoji",
            name: ":nya:",
            updated: "2024-01-01T00:00:00.000Z",
            icon: { type: "Image", mediaType: "image/webp", url: `${K}/files/nya.webp` },
          },
          { type: "Hashtag", href: `${K}/tags/cats`, name: "#cats" },
        ],
        manuallyApprovesFollowers: false,
        discoverable: true,
        publicKey: {
          id: `${K}/users/9abc#main-key`,
          type: "Key",
          owner: `${K}/users/9abc`,
          publicKeyPem: rsa.publicPem,
        },
        isCat: true,
        attachment: [],
      },
      `${K}/users/9abc`,
    );
    expect(actor).toMatchObject({
      username: "neko",
      displayName: "",
      note: "<p><span>nya</span></p>",
      avatarUrl: `${K}/files/avatar.webp`,
      headerUrl: null,
      emojis: [{ shortcode: "nya", url: `${K}/files/nya.webp` }],
      locked: false,
      discoverable: true,
      indexable: false,
      sharedInbox: `${K}/inbox`,
    });
    expect(actor.keys.map((k) => k.keyId)).toEqual([`${K}/users/9abc#main-key`]);
  });

  it("reads a GoToSocial actor, ignoring a key owned by someone else and embedded counts", () => {
    const G = "https://gts.example";
    const actor = parseActor(
      {
        "@context": ["https://w3id.org/security/v1", "https://www.w3.org/ns/activitystreams"],
        id: `${G}/users/bob`,
        type: "Person",
        preferredUsername: "bob",
        inbox: { id: `${G}/users/bob/inbox`, type: "OrderedCollection" },
        outbox: { id: `${G}/users/bob/outbox`, type: "OrderedCollection", totalItems: 42 },
        followers: { id: `${G}/users/bob/followers`, type: "OrderedCollection", totalItems: 7 },
        following: { id: `${G}/users/bob/following`, type: "OrderedCollection", totalItems: 3 },
        publicKey: [
          { id: `${G}/users/bob/main-key`, owner: `${G}/users/bob`, publicKeyPem: rsa.publicPem },
          { id: `${G}/users/eve/main-key`, owner: `${G}/users/eve`, publicKeyPem: otherRsa.publicPem },
          { id: "https://elsewhere.example/key", owner: `${G}/users/bob`, publicKeyPem: otherRsa.publicPem },
          {
            id: `${G}/users/bob/broken`,
            owner: `${G}/users/bob`,
            publicKeyPem: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----",
          },
        ],
        icon: [
          { type: "Image", url: "javascript:x" },
          { type: "Image", url: `${G}/a.png` },
        ],
        url: { type: "Link", href: `${G}/@bob` },
      },
      `${G}/users/bob`,
    );
    expect(actor.inbox).toBe(`${G}/users/bob/inbox`);
    expect(actor.url).toBe(`${G}/@bob`);
    expect(actor.avatarUrl).toBe(`${G}/a.png`);
    expect(actor.keys).toEqual([
      {
        keyId: `${G}/users/bob/main-key`,
        ownerUri: `${G}/users/bob`,
        algorithm: "rsa",
        publicKey: rsa.publicPem.trim(),
      },
    ]);
    expect([actor.statusesCount, actor.followersCount, actor.followingCount]).toEqual([42, 7, 3]);
  });

  it("reads a Fedify actor with an assertionMethod Multikey", () => {
    const F = "https://fedify.example";
    const doc = {
      "@context": [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        "https://w3id.org/security/multikey/v1",
      ],
      id: `${F}/users/carol`,
      type: "Application",
      preferredUsername: "carol",
      inbox: `${F}/users/carol/inbox`,
      publicKey: {
        id: `${F}/users/carol#main-key`,
        type: "CryptographicKey",
        owner: `${F}/users/carol`,
        publicKeyPem: rsa.publicPem,
      },
      assertionMethod: [
        {
          id: `${F}/users/carol#multikey-1`,
          type: "Multikey",
          controller: `${F}/users/carol`,
          publicKeyMultibase: ed25519PublicKeyToMultibase(ed.publicKey),
        },
        {
          id: `${F}/users/carol#multikey-2`,
          type: "Multikey",
          controller: `${F}/users/dave`,
          publicKeyMultibase: ed25519PublicKeyToMultibase(ed.publicKey),
        },
        {
          id: `${F}/users/carol#multikey-3`,
          type: "Multikey",
          controller: `${F}/users/carol`,
          publicKeyMultibase: "zNotAKey",
        },
      ],
    };
    const actor = parseActor(doc, `${F}/users/carol`);
    expect(actor.bot).toBe(true);
    expect(actor.keys).toEqual([
      {
        keyId: `${F}/users/carol#main-key`,
        ownerUri: `${F}/users/carol`,
        algorithm: "rsa",
        publicKey: rsa.publicPem.trim(),
      },
      {
        keyId: `${F}/users/carol#multikey-1`,
        ownerUri: `${F}/users/carol`,
        algorithm: "ed25519",
        publicKey: ed.publicKey,
      },
    ]);
    expect(parseKeys(doc)).toEqual(actor.keys);
  });

  it("refuses a document without preferredUsername", () => {
    const doc = mastodonActor();
    delete doc.preferredUsername;
    expect(() => parseActor(doc, `${M}/users/alice`)).toThrow(ParseError);
    expect(() => parseActor(doc, `${M}/users/alice`)).toThrow(/preferredUsername/);
    expect(() => parseActor({ ...mastodonActor(), preferredUsername: "a b" }, `${M}/users/alice`)).toThrow(
      ParseError,
    );
  });

  it("refuses an id on another host than the one that served it", () => {
    expect(() => parseActor(mastodonActor(), "https://evil.example/users/alice")).toThrow(ParseError);
    expect(() => parseActor(mastodonActor(), "https://mastodon.example:8443/users/alice")).toThrow(/not on/);
  });

  it("refuses other types, a missing id and a missing inbox", () => {
    expect(() => parseActor({ ...mastodonActor(), type: "Note" }, `${M}/users/alice`)).toThrow(
      /not an actor type/,
    );
    expect(() => parseActor({ ...mastodonActor(), type: undefined }, `${M}/users/alice`)).toThrow(ParseError);
    expect(() => parseActor({ ...mastodonActor(), id: 5 }, `${M}/users/alice`)).toThrow(/id/);
    expect(() => parseActor({ ...mastodonActor(), inbox: undefined }, `${M}/users/alice`)).toThrow(/inbox/);
    expect(() => parseActor("nope", `${M}/users/alice`)).toThrow(ParseError);
    // An array of types naming an actor type is fine.
    expect(parseActor({ ...mastodonActor(), type: ["Person", "Other"] }, `${M}/users/alice`).type).toBe(
      "Person",
    );
  });
});

function mastodonNote(): Record<string, unknown> {
  return {
    "@context": [
      "https://www.w3.org/ns/activitystreams",
      { toot: "http://joinmastodon.org/ns#", blurhash: "toot:blurhash" },
    ],
    id: `${M}/users/alice/statuses/1`,
    type: "Note",
    summary: null,
    inReplyTo: { id: "https://other.example/notes/9", type: "Note" },
    published: "2024-05-06T07:08:09Z",
    url: `${M}/@alice/1`,
    attributedTo: `${M}/users/alice`,
    to: ["as:Public"],
    cc: [`${M}/users/alice/followers`, { id: "https://other.example/users/bob", type: "Person" }, "Public"],
    sensitive: false,
    content:
      '<p>Hi <span class="h-card"><a href="https://other.example/@bob" class="u-url mention">@<span>bob</span></a></span> <a href="https://mastodon.example/tags/Cats" class="mention hashtag" rel="tag">#<span>Cats</span></a> :blobcat:<img src=x onerror=alert(1)></p>',
    contentMap: { en: "<p>ignored when content is there</p>", de: "x" },
    attachment: [
      {
        type: "Document",
        mediaType: "image/jpeg",
        url: `${M}/media/1.jpg`,
        name: "A cat\non a mat",
        blurhash: "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
        focalPoint: [-2, 0.5],
        width: 1200,
        height: 800,
      },
      {
        type: "Document",
        mediaType: "video/mp4",
        url: `${M}/media/2.mp4`,
        name: null,
        blurhash: "bad hash!",
      },
      { type: "Document", mediaType: "audio/ogg", url: `${M}/media/3.ogg` },
      { type: "Document", mediaType: "application/pdf", url: `${M}/media/4.pdf` },
      { type: "Image", url: { type: "Link", href: `${M}/media/5.png` } },
      { type: "Document", url: "javascript:alert(1)" },
    ],
    tag: [
      { type: "Mention", href: "https://other.example/users/bob", name: "@bob@other.example" },
      { type: "Mention", href: "https://other.example/users/bob", name: "@bob@other.example" },
      { type: "Hashtag", href: `${M}/tags/cats`, name: "#Cats" },
      { type: "Hashtag", href: `${M}/tags/cats`, name: "#cats" },
      { type: "Hashtag", name: "#bad tag" },
      {
        id: `${M}/emojis/1`,
        type: "Emoji",
        name: ":blobcat:",
        icon: { type: "Image", mediaType: "image/png", url: `${M}/emoji/blobcat.png` },
      },
      { type: "Emoji", name: ":bad-name:", icon: { url: `${M}/x.png` } },
    ],
  };
}

describe("parseNote", () => {
  it("reads a Mastodon note: addressing, mentions, hashtags, emojis, attachments", () => {
    const note = parseNote(mastodonNote());
    expect(note).toMatchObject({
      uri: `${M}/users/alice/statuses/1`,
      type: "Note",
      url: `${M}/@alice/1`,
      attributedTo: `${M}/users/alice`,
      summary: "",
      sensitive: false,
      // content is not one of the contentMap values: the first language is taken.
      language: "en",
      published: Date.UTC(2024, 4, 6, 7, 8, 9),
      updated: null,
      inReplyTo: "https://other.example/notes/9",
      to: [PUBLIC],
      cc: [`${M}/users/alice/followers`, "https://other.example/users/bob", PUBLIC],
      mentions: ["https://other.example/users/bob"],
      hashtags: ["Cats"],
      emojis: [{ shortcode: "blobcat", url: `${M}/emoji/blobcat.png` }],
      poll: null,
    });
    expect(note.content).not.toMatch(/img|onerror/);
    expect(note.content).toContain('class="u-url mention"');
    expect(note.content).toContain('class="mention hashtag"');
    expect(note.attachments).toEqual([
      {
        url: `${M}/media/1.jpg`,
        mediaType: "image/jpeg",
        kind: "image",
        description: "A cat\non a mat",
        blurhash: "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
        focalPoint: [-1, 0.5],
        width: 1200,
        height: 800,
      },
      {
        url: `${M}/media/2.mp4`,
        mediaType: "video/mp4",
        kind: "video",
        description: null,
        blurhash: null,
        focalPoint: null,
        width: null,
        height: null,
      },
      {
        url: `${M}/media/3.ogg`,
        mediaType: "audio/ogg",
        kind: "audio",
        description: null,
        blurhash: null,
        focalPoint: null,
        width: null,
        height: null,
      },
      {
        url: `${M}/media/4.pdf`,
        mediaType: "application/pdf",
        kind: "unknown",
        description: null,
        blurhash: null,
        focalPoint: null,
        width: null,
        height: null,
      },
      {
        url: `${M}/media/5.png`,
        mediaType: null,
        kind: "image",
        description: null,
        blurhash: null,
        focalPoint: null,
        width: null,
        height: null,
      },
    ]);
  });

  it("takes content and language from contentMap, or the language from @context", () => {
    const fromMap = parseNote({
      ...mastodonNote(),
      content: undefined,
      contentMap: { fr: "<p>Bonjour</p>", en: "<p>Hello</p>" },
    });
    expect(fromMap.content).toBe("<p>Bonjour</p>");
    expect(fromMap.language).toBe("fr");
    const matching = parseNote({
      ...mastodonNote(),
      content: "<p>Hallo</p>",
      contentMap: { en: "<p>Hi</p>", de: "<p>Hallo</p>" },
    });
    expect(matching.language).toBe("de");
    const fromContext = parseNote({
      ...mastodonNote(),
      contentMap: undefined,
      "@context": ["https://www.w3.org/ns/activitystreams", { "@language": "ja" }],
    });
    expect(fromContext.language).toBe("ja");
    expect(parseNote({ ...mastodonNote(), contentMap: { und: "x" } }).language).toBeNull();
  });

  it("turns summary into a plain content warning and marks the note sensitive", () => {
    const note = parseNote({ ...mastodonNote(), summary: "<b>spoilers</b> &amp; more", sensitive: false });
    expect(note.summary).toBe("spoilers & more");
    expect(note.sensitive).toBe(true);
    expect(parseNote({ ...mastodonNote(), sensitive: true }).sensitive).toBe(true);
  });

  it("takes the first Person of an attributedTo array, and needs an author", () => {
    const note = parseNote({
      ...mastodonNote(),
      attributedTo: [
        { type: "Group", id: "https://peertube.example/video-channels/chan" },
        { type: "Person", id: "https://peertube.example/accounts/dan" },
      ],
    });
    expect(note.attributedTo).toBe("https://peertube.example/accounts/dan");
    expect(
      parseNote({ ...mastodonNote(), attributedTo: { id: `${M}/users/x`, type: "Person" } }).attributedTo,
    ).toBe(`${M}/users/x`);
    expect(() => parseNote({ ...mastodonNote(), attributedTo: undefined })).toThrow(ParseError);
    expect(() => parseNote({ ...mastodonNote(), type: "Create" })).toThrow(ParseError);
    expect(() => parseNote({ ...mastodonNote(), id: "urn:x" })).toThrow(ParseError);
  });

  it("defaults published to now, takes updated, and never dates a note in the future", () => {
    const before = Date.now();
    expect(parseNote({ ...mastodonNote(), published: undefined }).published).toBeGreaterThanOrEqual(before);
    expect(parseNote({ ...mastodonNote(), published: "3000-01-01T00:00:00Z" }).published).toBeLessThanOrEqual(
      Date.now(),
    );
    expect(parseNote({ ...mastodonNote(), updated: "2024-05-07T00:00:00Z" }).updated).toBe(
      Date.UTC(2024, 4, 7),
    );
  });

  it("reads a Question with anyOf as a multiple-choice poll", () => {
    const note = parseNote({
      ...mastodonNote(),
      type: "Question",
      content: "<p>Which?</p>",
      endTime: "2030-01-01T00:00:00Z",
      votersCount: 5,
      anyOf: [
        { type: "Note", name: "Cats", replies: { type: "Collection", totalItems: 4 } },
        { type: "Note", name: "<b>Dogs</b>", replies: { type: "Collection", totalItems: 2 } },
        { type: "Note", name: "Birds" },
      ],
    });
    expect(note.type).toBe("Question");
    expect(note.poll).toEqual({
      multiple: true,
      options: [
        { title: "Cats", votes: 4 },
        { title: "Dogs", votes: 2 },
        { title: "Birds", votes: 0 },
      ],
      endTime: Date.UTC(2030, 0, 1),
      votersCount: 5,
    });
    const closed = parseNote({
      ...mastodonNote(),
      type: "Question",
      oneOf: [{ type: "Note", name: "A", replies: { totalItems: 1 } }],
      closed: "2024-01-01T00:00:00Z",
    });
    expect(closed.poll).toMatchObject({ multiple: false, endTime: Date.UTC(2024, 0, 1), votersCount: null });
  });

  it("shows an Article as its title linked to its url, then its content; its summary is no content warning", () => {
    const note = parseNote({
      id: "https://blog.example/?p=1",
      type: "Article",
      attributedTo: "https://blog.example/author/erin",
      name: "Cats & <dogs",
      summary: "<p>An excerpt</p>",
      content: "<h2>Part 1</h2><p>Body</p><script>x</script>",
      url: "https://blog.example/2024/my-post/",
      published: "2024-01-01T00:00:00Z",
      to: [PUBLIC],
    });
    expect(note.type).toBe("Article");
    expect(note.summary).toBe("");
    expect(note.sensitive).toBe(false);
    expect(note.content).toBe(
      '<p><a href="https://blog.example/2024/my-post/" rel="nofollow noopener noreferrer" target="_blank"><strong>Cats &amp; &lt;dogs</strong></a></p>' +
        "<p><strong>Part 1</strong></p><p>Body</p>",
    );
    const excerptOnly = parseNote({
      id: "https://blog.example/?p=2",
      type: "Article",
      attributedTo: "https://blog.example/author/erin",
      name: "Short",
      summary: "<p>Only an excerpt</p>",
    });
    expect(excerptOnly.content).toBe("<p><strong>Short</strong></p><p>Only an excerpt</p>");
  });

  it("shows a Lemmy link Page with its link", () => {
    const note = parseNote({
      id: "https://lemmy.example/post/1",
      type: "Page",
      attributedTo: "https://lemmy.example/u/frank",
      name: "Look at this",
      content: "<p>Interesting</p>",
      mediaType: "text/html",
      attachment: [{ type: "Link", href: "https://news.example/story", mediaType: "text/html" }],
      audience: "https://lemmy.example/c/news",
      to: ["https://lemmy.example/c/news", PUBLIC],
    });
    expect(note.attachments).toEqual([]);
    expect(note.content).toBe(
      "<p><strong>Look at this</strong></p><p>Interesting</p>" +
        '<p><a href="https://news.example/story" rel="nofollow noopener noreferrer" target="_blank">https://news.example/story</a></p>',
    );
  });

  it("escapes plain-text content", () => {
    const note = parseNote({
      ...mastodonNote(),
      content: "a <b>\nline",
      contentMap: undefined,
      mediaType: "text/plain",
    });
    expect(note.content).toBe("<p>a &lt;b&gt;<br />line</p>");
  });

  it("bounds tags and attachments", () => {
    const tag = [];
    for (let i = 0; i < 200; i++) {
      tag.push({ type: "Mention", href: `https://x.example/users/u${i}` });
      tag.push({ type: "Hashtag", name: `#t${i}` });
      tag.push({ type: "Emoji", name: `:e${i}:`, icon: { url: `https://x.example/e${i}.png` } });
    }
    const attachment = Array.from({ length: 40 }, (_, i) => ({
      type: "Document",
      mediaType: "image/png",
      url: `https://x.example/${i}.png`,
    }));
    const note = parseNote({ ...mastodonNote(), tag, attachment });
    expect(note.mentions).toHaveLength(MAX_TAGS);
    expect(note.hashtags).toHaveLength(MAX_TAGS);
    expect(note.emojis).toHaveLength(MAX_TAGS);
    expect(note.attachments).toHaveLength(MAX_ATTACHMENTS);
    const longUrl = `https://x.example/${"a".repeat(5000)}`;
    expect(parseNote({ ...mastodonNote(), url: longUrl, inReplyTo: longUrl }).url).toBeNull();
  });
});
