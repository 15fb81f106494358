CREATE TABLE `inbound_activities` (
	`id` integer PRIMARY KEY NOT NULL,
	`dedupe_key` text NOT NULL,
	`actor_uri` text NOT NULL,
	`body` text,
	`state` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`received_at` integer NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`finished_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inbound_activities_dedupe` ON `inbound_activities` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `inbound_activities_state` ON `inbound_activities` (`state`,`id`);--> statement-breakpoint
CREATE INDEX `inbound_activities_finished` ON `inbound_activities` (`state`,`finished_at`);--> statement-breakpoint
-- Ids already processed stay duplicates after the upgrade.
INSERT OR IGNORE INTO `inbound_activities` (`dedupe_key`, `actor_uri`, `state`, `received_at`, `next_attempt_at`, `finished_at`) SELECT `activity_uri`, '', 'done', `received_at`, `received_at`, `received_at` FROM `inbox_seen`;--> statement-breakpoint
DROP TABLE `inbox_seen`;