import { eq, sql } from "drizzle-orm";
import type { Config } from "../config/spec.js";
import { INSTANCE_KEY_OWNER } from "../core/account.js";
import { findKeyPairs } from "../store/accounts.js";
import type { Store } from "../store/open.js";
import { preparedPerDb } from "../store/prepared.js";
import { accounts, hosts } from "../store/schema.js";
import {
  createOutboundClient,
  type OutboundClient,
  type OutboundRequest,
  type OutboundResponse,
  wrenUserAgent,
} from "./fetch.js";
import {
  otherStandard,
  type SignatureStandard,
  SignatureStandardMemory,
  type SigningKey,
  signHeaders,
} from "./signatures/index.js";
import type { ProofSigningKey } from "./signatures/proof.js";
import type { Urls } from "./urls.js";

// Read once per host a process delivers to: a fan-out to a thousand servers reads it a thousand times.
const standardQuery = preparedPerDb((db) =>
  db
    .select({ s: hosts.signatureStandard })
    .from(hosts)
    .where(eq(hosts.host, sql.placeholder("host")))
    .prepare(),
);

export const AP_ACCEPT =
  'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"';

/** Who signs: the instance actor, or the local account (by its account id). */
export type Signer = typeof INSTANCE_KEY_OWNER | (string & {});

/**
 * Server-to-server HTTP: every request goes through the one SSRF-guarded client; this adds signing with our
 * keys and the choice of signature standard per host ("double knock": draft-cavage first, RFC 9421 when the
 * host refuses it, remembered in memory and in the hosts table).
 */
export class Transport {
  readonly #clients = new Map<string, OutboundClient>();
  readonly #keys = new Map<string, SigningKey>();
  readonly #proofKeys = new Map<string, ProofSigningKey | null>();
  readonly #standards = new SignatureStandardMemory(10_000);
  readonly #plain: OutboundClient;

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly urls: Urls,
    private readonly version: string,
  ) {
    this.#plain = this.#client(null, "draft-cavage");
  }

  #client(signer: Signer | null, standard: SignatureStandard): OutboundClient {
    const cacheKey = `${signer ?? ""}|${standard}`;
    let client = this.#clients.get(cacheKey);
    if (!client) {
      client = createOutboundClient({
        userAgent: wrenUserAgent(this.urls.origin, this.version),
        allowHttp: this.config.server.protocol === "http",
        allowPrivateAddresses: this.config.federation.allow_private_addresses,
        signer: signer ? async (req) => signHeaders(req, this.signingKey(signer), standard) : undefined,
      });
      this.#clients.set(cacheKey, client);
    }
    return client;
  }

  /** The RSA key (what every server accepts) of the instance actor or the local account. */
  signingKey(signer: Signer): SigningKey {
    const cached = this.#keys.get(signer);
    if (cached) return cached;
    const pair = findKeyPairs(this.store.db, signer).rsa;
    if (!pair) throw new Error(`no signing key for ${signer}`);
    const key: SigningKey = { keyId: this.#keyIds(signer).rsa, type: "rsa", privatePem: pair.privateKey };
    this.#keys.set(signer, key);
    return key;
  }

  /** The Ed25519 key that signs the object integrity proofs of `signer`'s activities (null when it has none). */
  proofKey(signer: Signer): ProofSigningKey | null {
    if (this.#proofKeys.has(signer)) return this.#proofKeys.get(signer) ?? null;
    const pair = findKeyPairs(this.store.db, signer).ed25519;
    const key = pair
      ? { keyId: this.#keyIds(signer).ed25519, publicKey: pair.publicKey, privateKey: pair.privateKey }
      : null;
    this.#proofKeys.set(signer, key);
    return key;
  }

  #keyIds(signer: Signer): { rsa: string; ed25519: string } {
    if (signer === INSTANCE_KEY_OWNER) {
      return { rsa: this.urls.instanceMainKey, ed25519: this.urls.instanceEd25519Key };
    }
    const account = this.store.db.select().from(accounts).where(eq(accounts.id, signer)).get();
    if (!account) throw new Error(`no local account ${signer}`);
    return { rsa: this.urls.mainKey(account.username), ed25519: this.urls.ed25519Key(account.username) };
  }

  standardFor(host: string): SignatureStandard {
    const known = this.#standards.get(host);
    if (known) return known;
    const standard = standardQuery(this.store.db).get({ host })?.s ?? "draft-cavage";
    this.#standards.set(host, standard);
    return standard;
  }

  #remember(host: string, standard: SignatureStandard): void {
    if (this.#standards.get(host) === standard) return;
    this.#standards.set(host, standard);
    this.store.db
      .insert(hosts)
      .values({ host, signatureStandard: standard })
      .onConflictDoUpdate({ target: hosts.host, set: { signatureStandard: standard } })
      .run();
  }

  /**
   * A GET of an ActivityPub document: unsigned first, signed by the instance actor when the server answers
   * 401 (authorized fetch). `signAs` signs from the start (for non-public objects).
   */
  async get(
    url: string,
    options: { signAs?: Signer; accept?: string; maxBytes?: number; timeoutMs?: number } = {},
  ) {
    const request: OutboundRequest = {
      url,
      headers: { Accept: options.accept ?? AP_ACCEPT },
      maxBytes: options.maxBytes,
      timeoutMs: options.timeoutMs,
    };
    if (options.signAs) return this.#signed(options.signAs, request);
    const first = await this.#plain.request(request);
    if (first.status !== 401) return first;
    return this.#signed(INSTANCE_KEY_OWNER, request);
  }

  /**
   * A signed POST of an activity to an inbox, with the signature-standard fallback. `keepAlive`: more
   * POSTs to this host follow at once (see OutboundRequest).
   */
  post(
    inbox: string,
    body: string,
    signer: Signer,
    options: { timeoutMs?: number; keepAlive?: boolean } = {},
  ): Promise<OutboundResponse> {
    return this.#signed(signer, {
      method: "POST",
      url: inbox,
      headers: { "Content-Type": "application/activity+json", Accept: AP_ACCEPT },
      body,
      timeoutMs: options.timeoutMs ?? 15_000,
      keepAlive: options.keepAlive,
    });
  }

  /** A plain request through the guarded client (media, WebFinger, NodeInfo). */
  plain(request: OutboundRequest): Promise<OutboundResponse> {
    return this.#plain.request(request);
  }

  async #signed(signer: Signer, request: OutboundRequest): Promise<OutboundResponse> {
    const host = new URL(request.url).host;
    const first = this.standardFor(host);
    const response = await this.#client(signer, first).request({ ...request, sign: true });
    if (response.status !== 400 && response.status !== 401) return response;
    const second = otherStandard(first);
    const retry = await this.#client(signer, second).request({ ...request, sign: true });
    if (retry.ok) this.#remember(host, second);
    return retry;
  }
}
