/**
 * Every configuration key Wren knows, with its type, default and documentation. This one table drives the
 * TOML validation, the WREN_<SECTION>_<KEY> environment overrides, `wren config check` and the test that keeps
 * config.example.toml complete.
 */
import { nodeCron } from "../jobs/cron.js";

export type KeySpec =
  | {
      type: "string";
      default: string;
      doc: string;
      secret?: boolean;
      check?: (value: string) => string | null;
    }
  | { type: "integer"; default: number; doc: string; min: number; max: number }
  | { type: "boolean"; default: boolean; doc: string }
  | { type: "enum"; default: string; doc: string; values: readonly string[] };

const hostname = (value: string): string | null =>
  /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/.test(value)
    ? null
    : "must be a lower-case host name, optionally with a port (example.com, localhost:8080)";

const httpUrlOrEmpty = (value: string): string | null => {
  if (value === "") return null;
  try {
    const url = new URL(value);
    if ((url.protocol === "http:" || url.protocol === "https:") && !url.search && !url.hash) return null;
  } catch {}
  return "must be empty or an http(s) URL without query or fragment";
};

const notEmpty = (value: string): string | null => (value.trim() === "" ? "must not be empty" : null);

export const CONFIG_SPEC = {
  server: {
    domain: {
      type: "string",
      default: "localhost:8080",
      doc: "The public host name: the domain in your handle (@you@domain) and in every URL. It cannot change after you federate.",
      check: hostname,
    },
    protocol: {
      type: "enum",
      default: "https",
      values: ["https", "http"],
      doc: 'Scheme of public URLs. Keep "https" in production (behind a TLS-terminating reverse proxy); "http" is for local trials and tests only.',
    },
    listen_host: {
      type: "string",
      default: "127.0.0.1",
      doc: "Address the HTTP server binds to. Keep 127.0.0.1 behind a reverse proxy.",
      check: notEmpty,
    },
    listen_port: {
      type: "integer",
      default: 8080,
      min: 0,
      max: 65535,
      doc: "Port the HTTP server binds to.",
    },
    title: { type: "string", default: "Wren", doc: "Name of the instance shown to apps and other servers." },
    description: {
      type: "string",
      default: "A single-user fediverse server.",
      doc: "Short description of the instance shown to apps.",
    },
    contact_email: { type: "string", default: "", doc: "Contact e-mail shown in the instance information." },
  },
  database: {
    path: {
      type: "string",
      default: "./data/wren.db",
      doc: "SQLite database file. Its folder is created if missing.",
      check: notEmpty,
    },
    busy_timeout_ms: {
      type: "integer",
      default: 5000,
      min: 0,
      max: 600_000,
      doc: "How long a write waits for the database lock.",
    },
  },
  media: {
    path: {
      type: "string",
      default: "./data/media",
      doc: "Folder for uploaded and cached media files.",
      check: notEmpty,
    },
    max_image_bytes: {
      type: "integer",
      default: 16 * 1024 * 1024,
      min: 1024,
      max: 1024 * 1024 * 1024,
      doc: "Largest image upload in bytes.",
    },
    max_image_pixels: {
      type: "integer",
      default: 33_177_600,
      min: 10_000,
      max: 268_402_689,
      doc: "Images with more pixels are scaled down on upload (the default is 7680x4320).",
    },
    max_video_bytes: {
      type: "integer",
      default: 99 * 1024 * 1024,
      min: 1024,
      max: 4 * 1024 * 1024 * 1024,
      doc: "Largest video or audio upload in bytes.",
    },
    image_worker_idle_s: {
      type: "integer",
      default: 5,
      min: 0,
      max: 86_400,
      doc: "Images are processed in a child process, started for the first image and stopped after this many seconds without one, so that the image library's memory is not held between uploads.",
    },
    image_job_timeout_s: {
      type: "integer",
      default: 60,
      min: 1,
      max: 3600,
      doc: "An image still being processed after this many seconds is refused as unreadable and its child process killed, so that one pathological file cannot hold up the images queued behind it.",
    },
    cache_budget_mb: {
      type: "integer",
      default: 2048,
      min: 0,
      max: 10_000_000,
      doc: "Remote avatars, headers and attachments are copied here and served from this server's own URLs, up to this many megabytes in all; past it the least recently viewed go. 0: nothing is copied (apps load remote media from its origin).",
    },
    remote_max_bytes: {
      type: "integer",
      default: 16 * 1024 * 1024,
      min: 1024,
      max: 1024 * 1024 * 1024,
      doc: "Largest remote file (video, audio, image) copied into the cache, in bytes; a larger one stays at its origin.",
    },
    remote_max_image_bytes: {
      type: "integer",
      default: 10 * 1024 * 1024,
      min: 1024,
      max: 1024 * 1024 * 1024,
      doc: "Largest remote image copied into the cache, in bytes.",
    },
    storage: {
      type: "enum",
      default: "local",
      values: ["local", "s3"],
      doc: 'Where media files live: "local" (the folder media.path) or "s3" (the bucket in [media.s3]). `wren media migrate --to s3` (or `--to local`) moves existing files.',
    },
  },
  "media.s3": {
    endpoint: {
      type: "string",
      default: "",
      doc: "URL of the S3-compatible service, e.g. https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000 (MinIO). Trusted configuration: requests to it bypass the federation address checks.",
      check: httpUrlOrEmpty,
    },
    bucket: { type: "string", default: "", doc: "Bucket the media files are stored in." },
    region: { type: "string", default: "us-east-1", doc: "Region the requests are signed for." },
    access_key_id: { type: "string", default: "", doc: "Access key id." },
    secret_access_key: {
      type: "string",
      default: "",
      secret: true,
      doc: "Secret access key. Better set in the environment: WREN_MEDIA_S3_SECRET_ACCESS_KEY.",
    },
    path_style: {
      type: "boolean",
      default: false,
      doc: "Address the bucket as ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY (MinIO, s3rver and other self-hosted services need true).",
    },
    public_url: {
      type: "string",
      default: "",
      doc: "Base URL the files are publicly served from (a CDN or the bucket's public address); file names are appended. Empty: Wren serves them at /media/ itself, streaming them from the bucket.",
      check: httpUrlOrEmpty,
    },
  },
  backup: {
    path: {
      type: "string",
      default: "./data/backups",
      doc: "Folder where `wren backup` writes its archives (and `wren status` looks for the last one).",
      check: notEmpty,
    },
    keep: {
      type: "integer",
      default: 7,
      min: 1,
      max: 10_000,
      doc: "Archives `wren backup` keeps in the backup folder; older ones are deleted after a successful backup.",
    },
    schedule: {
      type: "string",
      default: "",
      doc: 'When the server itself writes a backup into the backup folder, as a cron expression (server time; an optional first field for seconds): "30 3 * * *" is every day at 03:30. Empty: never. `wren status` shows the last one.',
      check: (value: string) =>
        value.trim() === "" || nodeCron().validate(value)
          ? null
          : 'must be a cron expression such as "30 3 * * *"',
    },
  },
  log: {
    level: {
      type: "enum",
      default: "info",
      values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
      doc: "Log verbosity. One line per request is logged at info.",
    },
  },
  federation: {
    allow_private_addresses: {
      type: "boolean",
      default: false,
      doc: "Allow outbound requests to loopback and private addresses. For tests on one machine only: it opens the server to SSRF.",
    },
    authorized_fetch: {
      type: "boolean",
      default: false,
      doc: "Answer GETs of the owner's posts and collections only when signed by an actor that is not blocked (Mastodon's secure mode). The actor document stays public.",
    },
    signature_window_seconds: {
      type: "integer",
      default: 3600,
      min: 30,
      max: 86_400,
      doc: "How far a signature's Date or created may be from now, either way.",
    },
    delivery_concurrency: {
      type: "integer",
      default: 8,
      min: 1,
      max: 256,
      doc: "Deliveries in flight at once, across all hosts.",
    },
    delivery_per_host: {
      type: "integer",
      default: 2,
      min: 1,
      max: 64,
      doc: "Deliveries in flight at once to one host.",
    },
    inbox_concurrency: {
      type: "integer",
      default: 4,
      min: 1,
      max: 64,
      doc: "Received activities applied at once (fetching what they refer to); two of one actor never run together.",
    },
    inbox_backlog_max: {
      type: "integer",
      default: 10_000,
      min: 1,
      max: 10_000_000,
      doc: "Received activities waiting to be applied beyond which the inbox answers 503 with Retry-After.",
    },
  },
  web: {
    show_posts: {
      type: "boolean",
      default: true,
      doc: "Show your public posts to visitors: on your profile page, on post and tag pages and in the RSS and Atom feeds. With false, visitors see only your profile (name, bio, fields); post and tag pages and feeds answer 404. Servers and apps are not affected.",
    },
  },
  prune: {
    enabled: {
      type: "boolean",
      default: true,
      doc: "Prune the database every day at 04:27 (server time): old remote posts nobody here interacted with, old notifications, and remote accounts and hashtags nothing refers to any more. `wren prune` runs it by hand.",
    },
    remote_statuses_days: {
      type: "integer",
      default: 30,
      min: 1,
      max: 36_500,
      doc: "Remote posts older than this many days go, unless you favourited, boosted, bookmarked, replied to or voted in them, they mention you, are in a thread you posted in, are pinned by their author, or are in a direct conversation.",
    },
    notifications_days: {
      type: "integer",
      default: 90,
      min: 1,
      max: 36_500,
      doc: "Notifications older than this many days go.",
    },
    disk_budget_mb: {
      type: "integer",
      default: 0,
      min: 0,
      max: 10_000_000,
      doc: "When the database file and the media folder together are still larger than this after pruning, cached remote media is evicted first (least recently viewed), then the prune runs again with the days halved (down to one day); each step is logged as a warning. 0: no budget.",
    },
  },
  limits: {
    max_body_bytes: {
      type: "integer",
      default: 1024 * 1024,
      min: 1024,
      max: 64 * 1024 * 1024,
      doc: "Largest request body accepted outside media uploads (inbox, API), in bytes.",
    },
  },
} as const satisfies Record<string, Record<string, KeySpec>>;

type Spec = typeof CONFIG_SPEC;
type ValueOf<K extends KeySpec> = K extends { type: "integer" }
  ? number
  : K extends { type: "boolean" }
    ? boolean
    : K extends { type: "enum"; values: readonly (infer V)[] }
      ? V
      : string;

export type Config = {
  readonly [S in keyof Spec]: {
    readonly [K in keyof Spec[S]]: Spec[S][K] extends KeySpec ? ValueOf<Spec[S][K]> : never;
  };
};
