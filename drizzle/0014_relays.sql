CREATE TABLE `relays` (
	`id` text PRIMARY KEY NOT NULL,
	`inbox_url` text NOT NULL,
	`actor_uri` text,
	`mode` text NOT NULL,
	`follow_uri` text NOT NULL,
	`state` text DEFAULT 'pending' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `relays_inbox_url_unique` ON `relays` (`inbox_url`);--> statement-breakpoint
CREATE UNIQUE INDEX `relays_follow_uri_unique` ON `relays` (`follow_uri`);