/**
 * The JSON-LD @context of every document we serve. Each term we use outside ActivityStreams is defined here,
 * so strict JSON-LD processors (Fedify, Misskey's) read the same thing Mastodon does.
 */
export const AS_CONTEXT = "https://www.w3.org/ns/activitystreams";
export const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

export const ACTOR_CONTEXT = [
  AS_CONTEXT,
  "https://w3id.org/security/v1",
  "https://w3id.org/security/data-integrity/v1",
  "https://www.w3.org/ns/did/v1",
  "https://w3id.org/security/multikey/v1",
  {
    manuallyApprovesFollowers: "as:manuallyApprovesFollowers",
    sensitive: "as:sensitive",
    Hashtag: "as:Hashtag",
    movedTo: { "@id": "as:movedTo", "@type": "@id" },
    alsoKnownAs: { "@id": "as:alsoKnownAs", "@type": "@id" },
    toot: "http://joinmastodon.org/ns#",
    featured: { "@id": "toot:featured", "@type": "@id" },
    featuredTags: { "@id": "toot:featuredTags", "@type": "@id" },
    discoverable: "toot:discoverable",
    indexable: "toot:indexable",
    memorial: "toot:memorial",
    Emoji: "toot:Emoji",
    blurhash: "toot:blurhash",
    focalPoint: { "@container": "@list", "@id": "toot:focalPoint" },
    schema: "http://schema.org#",
    PropertyValue: "schema:PropertyValue",
    value: "schema:value",
    // Quote posts (FEP-044f), as Mastodon 4.5 defines them.
    quote: "https://w3id.org/fep/044f#quote",
    quoteUri: "http://fedibird.com/ns#quoteUri",
    _misskey_quote: "https://misskey-hub.net/ns#_misskey_quote",
    quoteAuthorization: { "@id": "https://w3id.org/fep/044f#quoteAuthorization", "@type": "@id" },
    QuoteRequest: "https://w3id.org/fep/044f#QuoteRequest",
    // GoToSocial's terms (interaction policies, canQuote) are in GTS_TERMS, vocab/interaction-policy.ts.
  },
] as const;

export const ACTIVITY_JSON = "application/activity+json";
export const LD_JSON_AS = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"';
