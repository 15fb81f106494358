CREATE TABLE `remote_media` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`state` text DEFAULT 'pending' NOT NULL,
	`type` text,
	`content_type` text,
	`file_name` text,
	`preview_file_name` text,
	`bytes` integer DEFAULT 0 NOT NULL,
	`blurhash` text,
	`meta` text DEFAULT '{}' NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`fetched_at` integer,
	`last_accessed_at` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `remote_media_url_unique` ON `remote_media` (`url`);--> statement-breakpoint
CREATE INDEX `remote_media_lru` ON `remote_media` (`state`,`last_accessed_at`);