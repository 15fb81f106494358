CREATE TABLE `filter_keywords` (
	`id` text PRIMARY KEY NOT NULL,
	`filter_id` text NOT NULL,
	`keyword` text NOT NULL,
	`whole_word` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`filter_id`) REFERENCES `filters`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `filter_keywords_filter` ON `filter_keywords` (`filter_id`,`id`);--> statement-breakpoint
CREATE TABLE `filter_statuses` (
	`id` text PRIMARY KEY NOT NULL,
	`filter_id` text NOT NULL,
	`status_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`filter_id`) REFERENCES `filters`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`status_id`) REFERENCES `statuses`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `filter_statuses_filter_status` ON `filter_statuses` (`filter_id`,`status_id`);--> statement-breakpoint
CREATE TABLE `filters` (
	`id` text PRIMARY KEY NOT NULL,
	`title` text NOT NULL,
	`context` text NOT NULL,
	`action` text DEFAULT 'warn' NOT NULL,
	`expires_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
